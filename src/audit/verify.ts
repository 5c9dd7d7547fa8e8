/**
 * Offline verification of a ledger: recomputes every leaf, the hash chain and the Merkle tree,
 * checks each signed checkpoint against the recomputed root at its size, and compares the log with
 * the newest checkpoint kept apart from it (truncation). Reports the first event that does not
 * verify and why.
 */

import type { KeyObject } from 'node:crypto';
import { GENESIS_HASH } from './canonical.ts';
import { type Checkpoint, verifyCheckpoint } from './checkpoint.ts';
import { chainLink, columnMismatch, type EventRow, type StoredBody } from './event-codec.ts';
import { leafHashHex, MerkleFrontier } from './merkle.ts';
import type { PrunedState } from './store.ts';

export type Problem =
  | 'altered'
  | 'removed'
  | 'reordered'
  | 'inserted'
  | 'truncated'
  | 'bad signature'
  | 'malformed';

export type VerifyResult =
  | {
      readonly ok: true;
      readonly events: number;
      readonly checkpoints: number;
      readonly treeSize: number;
      readonly rootHash: string;
    }
  | {
      readonly ok: false;
      readonly seq: number;
      readonly problem: Problem;
      readonly reason: string;
    };

export interface VerifyInput {
  /** The rows in stored order, starting after the pruned prefix. */
  readonly rows: AsyncIterable<EventRow>;
  /** The ledger id every checkpoint must name. */
  readonly origin: string;
  /** Public keys trusted to sign checkpoints. */
  readonly keys: readonly KeyObject[];
  readonly pruned?: PrunedState | null;
  /** The newest checkpoint kept apart from the log (latest-checkpoint.json), if any. */
  readonly latest?: unknown;
}

/** Everything a pass needs but the rows. */
export type VerifyContext = Omit<VerifyInput, 'rows'>;

/** A verification failure at a seq; thrown inside verifiers and turned into a result. */
export class Failure extends Error {
  readonly seq: number;
  readonly problem: Problem;
  constructor(seq: number, problem: Problem, reason: string) {
    super(reason);
    this.seq = seq;
    this.problem = problem;
  }
}

/**
 * Where a pass over the rows stands: everything before `expected` has verified. A pass can start
 * from a state that another verifier reached (see verify-parallel.ts).
 */
export interface VerifyState {
  /** The seq the next row must have. */
  expected: number;
  /** The chain hash of the row before it. */
  prev: string;
  /** The Merkle frontier over every leaf before it. */
  frontier: MerkleFrontier;
  /** Checkpoint events verified so far. */
  checkpoints: number;
  /** The root at the newest kept checkpoint's size, once the pass has gone past that size. */
  latestRoot: string | undefined;
}

/**
 * @example
 * const r = await verifyLedger({ rows: reader.rows(1), origin, keys: [publicKey], latest });
 * if (!r.ok) console.error(`seq ${r.seq}: ${r.problem}: ${r.reason}`);
 */
export async function verifyLedger(input: VerifyInput, from?: VerifyState): Promise<VerifyResult> {
  try {
    return await run(input, from);
  } catch (err) {
    const failed = failureResult(err);
    if (failed === undefined) throw err;
    return failed;
  }
}

/**
 * The result for a thrown {@link Failure}; undefined for anything else.
 *
 * @example
 * const result = failureResult(err);
 * if (result === undefined) throw err;
 */
export function failureResult(err: unknown): VerifyResult | undefined {
  if (!(err instanceof Failure)) return undefined;
  return { ok: false, seq: err.seq, problem: err.problem, reason: err.message };
}

/** Checks a checkpoint's signature with whichever trusted key its keyId names. */
export function checkSignature(
  cp: unknown,
  keys: readonly KeyObject[],
  origin: string,
  seq: number,
): Checkpoint {
  let reason = 'no trusted public key';
  for (const key of keys) {
    const r = verifyCheckpoint(cp, key);
    if (r.ok) {
      if (r.checkpoint.origin !== origin) {
        throw new Failure(seq, 'bad signature', 'checkpoint names another ledger');
      }
      return r.checkpoint;
    }
    reason = r.reason;
  }
  throw new Failure(seq, 'bad signature', `checkpoint signature does not verify: ${reason}`);
}

async function run(input: VerifyInput, from?: VerifyState): Promise<VerifyResult> {
  const state = from ?? startState(input);
  const latest = latestCheckpoint(input);
  for await (const row of input.rows) {
    const body = checkRow(row, state.expected, state.prev);
    if (latest !== null && state.frontier.size === latest.treeSize) {
      state.latestRoot = state.frontier.root().toString('hex');
    }
    if (body.type === 'ledger.checkpointed') {
      checkCheckpointEvent(body, row.seq, state.frontier, input);
      state.checkpoints++;
    }
    state.frontier.pushHex(row.leaf);
    state.prev = row.hash;
    state.expected++;
  }
  return finish(input, latest, state);
}

/**
 * The newest checkpoint kept apart from the log, once its signature has verified.
 *
 * @example
 * const latest = latestCheckpoint({ origin, keys, latest: readLatestCheckpoint(file) });
 */
export function latestCheckpoint(input: VerifyContext): Checkpoint | null {
  return input.latest ? checkSignature(input.latest, input.keys, input.origin, 0) : null;
}

/**
 * Checks the end of the log against the newest kept checkpoint; the result of a whole pass.
 *
 * @example
 * return finish(input, latestCheckpoint(input), state);
 */
export function finish(input: VerifyContext, latest: Checkpoint | null, state: VerifyState) {
  const size = state.expected - 1;
  const root = state.frontier.root().toString('hex');
  if (latest !== null) checkLatest(latest, size, state.latestRoot ?? root);
  const result: VerifyResult = {
    ok: true,
    events: size - (input.pruned?.throughSeq ?? 0),
    checkpoints: state.checkpoints,
    treeSize: size,
    rootHash: root,
  };
  return result;
}

/**
 * The state before the first stored row, once the pruned prefix has verified.
 *
 * @example
 * const state = startState({ origin, keys, pruned: info.pruned });
 */
export function startState(input: VerifyContext): VerifyState {
  const p = input.pruned;
  const fresh = { checkpoints: 0, latestRoot: undefined };
  if (p === null || p === undefined) {
    return { ...fresh, expected: 1, prev: GENESIS_HASH, frontier: new MerkleFrontier() };
  }
  const cp = checkSignature(p.checkpoint, input.keys, input.origin, p.throughSeq);
  const root = p.frontier.root().toString('hex');
  if (p.frontier.size !== p.throughSeq || cp.treeSize !== p.throughSeq || cp.rootHash !== root) {
    throw new Failure(p.throughSeq, 'altered', 'the pruned prefix does not match its checkpoint');
  }
  return { ...fresh, expected: p.throughSeq + 1, prev: p.lastHash, frontier: p.frontier.clone() };
}

/**
 * Verifies one row on its own and its link to `prev`; returns its parsed body. Throws a
 * {@link Failure} naming the first problem.
 *
 * @example
 * const body = checkRow(row, state.expected, state.prev);
 */
export function checkRow(row: EventRow, expected: number, prev: string): StoredBody {
  if (row.seq > expected) {
    throw new Failure(
      expected,
      'removed',
      `event ${expected} is missing (next stored is ${row.seq})`,
    );
  }
  if (row.seq < expected) {
    throw new Failure(row.seq, 'inserted', 'a second event is stored with this seq');
  }
  let body: StoredBody;
  try {
    body = JSON.parse(row.body) as StoredBody;
  } catch {
    throw new Failure(row.seq, 'altered', 'the stored body is not JSON');
  }
  if (leafHashHex(row.body) !== row.leaf) {
    throw new Failure(row.seq, 'altered', 'the body does not hash to its leaf hash');
  }
  if (body.seq !== row.seq) {
    const problem = body.seq === row.seq - 1 ? 'inserted' : 'reordered';
    throw new Failure(row.seq, problem, `the event stored at ${row.seq} says it is ${body.seq}`);
  }
  if (row.prevHash !== prev || chainLink(prev, row.leaf) !== row.hash) {
    throw new Failure(row.seq, 'reordered', 'the event does not follow the previous one');
  }
  const column = columnMismatch(row, body);
  if (column !== undefined) throw new Failure(row.seq, 'altered', column);
  return body;
}

/**
 * Checks a `ledger.checkpointed` event against the root of everything before it.
 *
 * @example
 * checkCheckpointEvent(body, row.seq, frontierBeforeRow, { origin, keys });
 */
export function checkCheckpointEvent(
  body: Pick<StoredBody, 'data'>,
  seq: number,
  frontier: MerkleFrontier,
  input: Pick<VerifyInput, 'keys' | 'origin'>,
): void {
  const cp = checkSignature(body.data, input.keys, input.origin, seq);
  if (cp.treeSize !== seq - 1) {
    throw new Failure(
      seq,
      'malformed',
      `checkpoint covers ${cp.treeSize} events, expected ${seq - 1}`,
    );
  }
  if (frontier.root().toString('hex') !== cp.rootHash) {
    throw new Failure(
      seq,
      'altered',
      `events before this signed checkpoint were changed (root at size ${cp.treeSize} differs)`,
    );
  }
}

function checkLatest(latest: Checkpoint, size: number, rootAtSize: string): void {
  if (latest.treeSize > size) {
    throw new Failure(
      size + 1,
      'truncated',
      `the newest signed checkpoint covers ${latest.treeSize} events but the log ends at ${size}`,
    );
  }
  if (latest.rootHash !== rootAtSize) {
    throw new Failure(
      latest.treeSize,
      'altered',
      `the log differs from the newest signed checkpoint (size ${latest.treeSize})`,
    );
  }
}
