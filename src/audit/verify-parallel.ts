/**
 * Verification of a large embedded ledger on every core. The log is cut into chunks of 2^k
 * leaves, aligned to multiples of 2^k, and worker threads (verify-worker.ts) check them in any
 * order with the same `checkRow` as the sequential pass: each chunk's rows, their links to each
 * other, and the root of the chunk's perfect Merkle subtree. This thread then walks the chunks in
 * order: it checks the link between neighbours, joins the subtree roots into the tree, and checks
 * every signed checkpoint against the root at its size.
 *
 * Failures are never reported from here. At the first chunk that is not clean, the sequential
 * verifier takes over from that chunk's first row, with the state it would have reached itself,
 * so a tampered ledger gets exactly the answer `verifyLedger` gives (same seq, problem, reason).
 */

import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import type { Checkpoint } from './checkpoint.ts';
import type { EventRow, StoredBody } from './event-codec.ts';
import { MerkleFrontier, type MerkleFrontierJson } from './merkle.ts';
import {
  checkCheckpointEvent,
  checkRow,
  failureResult,
  finish,
  latestCheckpoint,
  startState,
  type VerifyInput,
  type VerifyResult,
  type VerifyState,
  verifyLedger,
} from './verify.ts';
import { startAuditWorker } from './worker-start.ts';

export interface ParallelVerifyOptions {
  /** Worker threads; default `os.availableParallelism()`, at most 8. */
  readonly workers?: number;
  /** Leaves per chunk, a power of two; default 2^14. */
  readonly chunkLeaves?: number;
  /** Smaller logs are verified on this thread (starting workers costs more); default 2^15. */
  readonly minEvents?: number;
  /** Called as each chunk comes back from a worker, with its last seq (progress, tests). */
  readonly onChunk?: (to: number, clean: boolean) => void;
}

export interface ParallelVerifyInput extends Omit<VerifyInput, 'rows'> {
  /** The SQLite file, opened read-only by each worker. */
  readonly path: string;
  /** The newest stored seq when verification starts; later appends are not verified. */
  readonly lastSeq: number;
  /** The rows from a seq to the end, for the sequential pass. */
  readonly rowsFrom: (seq: number) => AsyncIterable<EventRow>;
}

/** One chunk of rows for a worker. */
export interface ChunkJob {
  readonly index: number;
  /** First and last seq of the chunk. */
  readonly from: number;
  readonly to: number;
  /**
   * The frontier before `from` when it is known (the first chunk). Otherwise `from - 1` is a
   * multiple of the chunk size and the worker hashes the chunk's own subtree from an empty one.
   */
  readonly start: MerkleFrontierJson | null;
  /** Report the frontier when it reaches this size (the newest kept checkpoint's tree size). */
  readonly latestSize: number | null;
}

/** A checkpoint event inside a chunk, with the chunk's frontier nodes before it. */
export interface ChunkCheckpoint {
  readonly seq: number;
  readonly body: string;
  readonly nodes: string[];
}

export type ChunkResult =
  | {
      readonly ok: true;
      readonly index: number;
      /** The first row's stored prev_hash and the last row's hash. */
      readonly firstPrev: string;
      readonly lastHash: string;
      /** The frontier nodes after the last row (global with `start`, else the chunk's own). */
      readonly nodes: string[];
      readonly checkpoints: ChunkCheckpoint[];
      readonly latestNodes: string[] | null;
    }
  | { readonly ok: false; readonly index: number };

const DEFAULT_CHUNK_LEAVES = 2 ** 14;
const MAX_WORKERS = 8;
const PAGE = 8192;

/**
 * Checks one chunk of rows (in a worker). Not clean (`ok: false`) on any problem at all; the
 * sequential pass finds out which.
 *
 * @example
 * const result = checkChunk((from, to, limit) => readRows(db, from, to, limit), job);
 */
export function checkChunk(
  read: (from: number, to: number, limit: number) => EventRow[],
  job: ChunkJob,
): ChunkResult {
  try {
    return walkChunk(read, job);
  } catch {
    return { ok: false, index: job.index };
  }
}

function walkChunk(
  read: (from: number, to: number, limit: number) => EventRow[],
  job: ChunkJob,
): ChunkResult {
  const frontier = job.start ? MerkleFrontier.fromJSON(job.start) : new MerkleFrontier();
  const checkpoints: ChunkCheckpoint[] = [];
  let latestNodes: string[] | null = null;
  let expected = job.from;
  let firstPrev: string | undefined;
  let prev = '';
  for (
    let page = read(expected, job.to, PAGE);
    page.length > 0;
    page = read(expected, job.to, PAGE)
  ) {
    for (const row of page) {
      if (firstPrev === undefined) prev = firstPrev = row.prevHash;
      const body = checkRow(row, expected, prev);
      if (job.latestSize === expected - 1) latestNodes = frontier.toJSON().nodes;
      if (body.type === 'ledger.checkpointed') {
        checkpoints.push({ seq: row.seq, body: row.body, nodes: frontier.toJSON().nodes });
      }
      frontier.pushHex(row.leaf);
      prev = row.hash;
      expected++;
    }
  }
  if (firstPrev === undefined || expected !== job.to + 1) return { ok: false, index: job.index };
  const nodes = frontier.toJSON().nodes;
  return { ok: true, index: job.index, firstPrev, lastHash: prev, nodes, checkpoints, latestNodes };
}

/**
 * @example
 * const r = await verifyLedgerParallel({ path, lastSeq, rowsFrom, origin, keys, pruned, latest });
 */
export async function verifyLedgerParallel(
  input: ParallelVerifyInput,
  options: ParallelVerifyOptions = {},
): Promise<VerifyResult> {
  const sequential = (from: number, state?: VerifyState) =>
    verifyLedger({ ...input, rows: input.rowsFrom(from) }, state);
  let start: VerifyState;
  let latest: Checkpoint | null;
  try {
    start = startState(input);
    latest = latestCheckpoint(input);
  } catch (err) {
    const failed = failureResult(err);
    if (failed === undefined) throw err;
    return failed;
  }
  const chunkLeaves = options.chunkLeaves ?? DEFAULT_CHUNK_LEAVES;
  const jobs = planChunks(start, input.lastSeq, latest?.treeSize ?? null, chunkLeaves);
  const workers = Math.min(options.workers ?? availableParallelism(), MAX_WORKERS, jobs.length);
  const events = input.lastSeq - start.expected + 1;
  if (workers < 2 || events < (options.minEvents ?? 2 * DEFAULT_CHUNK_LEAVES)) {
    return sequential(start.expected);
  }
  const results = await runChunks(input.path, jobs, workers, options.onChunk);
  try {
    return await join({ input, latest, jobs, results, chunkLeaves, sequential }, start);
  } catch (err) {
    const failed = failureResult(err);
    if (failed === undefined) throw err;
    return failed;
  }
}

/** Chunks of `[start.expected, lastSeq]` whose leaf ranges end on multiples of `leaves`. */
function planChunks(
  start: VerifyState,
  lastSeq: number,
  latestSize: number | null,
  leaves: number,
): ChunkJob[] {
  if (
    !Number.isSafeInteger(leaves) ||
    leaves < 1 ||
    2 ** Math.round(Math.log2(leaves)) !== leaves
  ) {
    throw new RangeError('chunkLeaves must be a power of two');
  }
  const jobs: ChunkJob[] = [];
  for (let from = start.expected; from <= lastSeq; ) {
    const to = Math.min(lastSeq, (Math.floor((from - 1) / leaves) + 1) * leaves);
    const first = jobs.length === 0;
    jobs.push({
      index: jobs.length,
      from,
      to,
      start: first ? start.frontier.toJSON() : null,
      latestSize,
    });
    from = to + 1;
  }
  return jobs;
}

/** Runs the chunks on `count` workers, handing the next chunk to whichever is free. */
async function runChunks(
  path: string,
  jobs: readonly ChunkJob[],
  count: number,
  onChunk: ParallelVerifyOptions['onChunk'],
): Promise<(ChunkResult | undefined)[]> {
  const results: (ChunkResult | undefined)[] = new Array(jobs.length);
  let next = 0;
  // Chunks after one that is not clean are not needed: the sequential pass stops before them.
  let end = jobs.length;
  const drive = (worker: Worker): Promise<void> =>
    new Promise((resolve) => {
      const take = (): void => {
        if (next < end) worker.postMessage(jobs[next++]);
        else resolve();
      };
      worker.on('message', (r: ChunkResult) => {
        results[r.index] = r;
        onChunk?.(jobs[r.index]?.to ?? 0, r.ok);
        if (!r.ok) end = Math.min(end, r.index + 1);
        take();
      });
      worker.on('error', () => resolve());
      worker.on('exit', () => resolve());
      take();
    });
  const workers = Array.from({ length: count }, () =>
    startAuditWorker('verify-worker', { airlockVerifyWorker: true, path }),
  );
  try {
    await Promise.all(workers.map(drive));
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return results;
}

interface Joining {
  readonly input: ParallelVerifyInput;
  readonly latest: Checkpoint | null;
  readonly jobs: readonly ChunkJob[];
  readonly results: readonly (ChunkResult | undefined)[];
  readonly chunkLeaves: number;
  readonly sequential: (from: number, state: VerifyState) => Promise<VerifyResult>;
}

/** Walks the chunks in order; hands over to the sequential pass at the first one not clean. */
async function join(j: Joining, state: VerifyState): Promise<VerifyResult> {
  const { input, latest, results, sequential } = j;
  for (const job of j.jobs) {
    const r = results[job.index];
    const resume: VerifyState = { ...state, frontier: state.frontier.clone() };
    if (r === undefined || !r.ok || r.firstPrev !== state.prev) {
      return sequential(job.from, resume);
    }
    // The global frontier at a size inside this chunk: the chunk's nodes follow the ones before.
    const at = (size: number, nodes: readonly string[]) =>
      MerkleFrontier.fromJSON({
        size,
        nodes: job.start === null ? [...state.frontier.toJSON().nodes, ...nodes] : [...nodes],
      });
    try {
      if (r.latestNodes !== null && latest !== null) {
        state.latestRoot = at(latest.treeSize, r.latestNodes).root().toString('hex');
      }
      for (const cp of r.checkpoints) {
        const body = JSON.parse(cp.body) as StoredBody;
        checkCheckpointEvent(body, cp.seq, at(cp.seq - 1, cp.nodes), input);
        state.checkpoints++;
      }
    } catch (err) {
      if (failureResult(err) === undefined) throw err;
      return sequential(job.from, resume);
    }
    state.frontier = advance(state.frontier, job, r.nodes, j.chunkLeaves);
    state.prev = r.lastHash;
    state.expected = job.to + 1;
  }
  return finish(input, latest, state);
}

/** The global frontier after a chunk, from the one before it and the chunk's nodes. */
function advance(
  before: MerkleFrontier,
  job: ChunkJob,
  nodes: readonly string[],
  chunkLeaves: number,
): MerkleFrontier {
  if (job.start !== null) return MerkleFrontier.fromJSON({ size: job.to, nodes: [...nodes] });
  const leaves = job.to - job.from + 1;
  const [root] = nodes;
  if (leaves === chunkLeaves && nodes.length === 1 && root !== undefined) {
    const joined = before.clone();
    joined.pushSubtree(Buffer.from(root, 'hex'), leaves);
    return joined;
  }
  // A last, partial chunk: its subtrees are all smaller than the ones before it.
  return MerkleFrontier.fromJSON({ size: job.to, nodes: [...before.toJSON().nodes, ...nodes] });
}
