/**
 * Self-verifying exports. The first line is a header with the ledger id, the public keys, the
 * signed checkpoints that cover the range and consistency proofs between them; every following
 * line is one event with its exact body and an inclusion proof against the newest checkpoint.
 * `jsonl` lines are Airlock's own shape; `ocsf` lines are OCSF events with the same evidence under
 * `unmapped.airlock`. `verifyExport` needs nothing but the file and a trusted public key.
 */

import type { KeyObject } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Checkpoint } from './checkpoint.ts';
import { chainLink, type EventRow, eventOfRow, type StoredBody } from './event-codec.ts';
import { leafHash, MerkleTree, verifyConsistency, verifyInclusion } from './merkle.ts';
import { OCSF_VERSION, toOcsf } from './ocsf.ts';
import type { LedgerInfo, LedgerReader } from './store.ts';
import { checkSignature, Failure, type VerifyResult } from './verify.ts';

export const EXPORT_VERSION = 1;

export interface ExportHeader {
  readonly version: number;
  readonly format: 'jsonl' | 'ocsf';
  readonly ocsfVersion?: string;
  readonly origin: string;
  /** First and last seq exported (0, 0 when the range is empty). */
  readonly from: number;
  readonly to: number;
  readonly publicKeys: readonly string[];
  /** Signed checkpoints from the first covering the range to the one every proof is against. */
  readonly checkpoints: readonly Checkpoint[];
  /** `proofs[i]` proves checkpoints[i] is a prefix of checkpoints[i + 1] (hex hashes). */
  readonly consistency: readonly (readonly string[])[];
}

export interface ExportOptions {
  readonly reader: LedgerReader;
  readonly format: 'jsonl' | 'ocsf';
  readonly since?: number | undefined;
  readonly until?: number | undefined;
  readonly out: string;
  readonly publicKeyPem: string;
  /** Signs a checkpoint covering everything appended so far (when the newest one is too old). */
  readonly checkpoint: () => Promise<void>;
}

/**
 * @example
 * const n = await exportLedger({ reader, format: 'jsonl', out: 'audit.jsonl', publicKeyPem, checkpoint });
 */
export async function exportLedger(
  o: ExportOptions,
): Promise<{ events: number; header: ExportHeader }> {
  let info = await requireInfo(o.reader);
  const first = (info.pruned?.throughSeq ?? 0) + 1;
  const from =
    o.since === undefined ? first : ((await o.reader.seqAt(o.since, 'first-at-or-after')) ?? 0);
  const until =
    o.until === undefined ? info.head.size : ((await o.reader.seqAt(o.until, 'last-before')) ?? 0);
  if (info.head.checkpointSeq - 1 < until || info.head.checkpointSeq === 0) {
    await o.checkpoint();
    info = await requireInfo(o.reader);
  }
  const { tree, checkpoints } = await buildTree(o.reader, info);
  const cover = checkpoints.at(-1);
  if (cover === undefined) throw new Error('the ledger has no signed checkpoint to export against');
  // A checkpoint cannot cover its own event: the range ends at the newest covered event.
  const to = Math.min(until, cover.treeSize);
  const header = headerOf(
    o,
    info.origin,
    from <= to ? from : 0,
    from <= to ? to : 0,
    checkpoints,
    tree,
  );
  const out = createWriteStream(o.out, { mode: 0o600 });
  const write = async (line: string): Promise<void> => {
    if (!out.write(`${line}\n`)) await once(out, 'drain');
  };
  await write(JSON.stringify({ airlock_export: header }));
  let events = 0;
  if (from <= to && from >= first) {
    for await (const row of o.reader.rows(from, to)) {
      await write(
        exportLine(o.format, row, tree.inclusionProof(row.seq - 1, cover.treeSize), cover.treeSize),
      );
      events++;
    }
  }
  out.end();
  await once(out, 'finish');
  return { events, header };
}

async function requireInfo(reader: LedgerReader): Promise<LedgerInfo> {
  const info = await reader.info();
  if (info === null) throw new Error('the ledger is empty');
  return info;
}

/** All leaves (after the pruned prefix) and every signed checkpoint in the log. */
async function buildTree(reader: LedgerReader, info: LedgerInfo) {
  const tree = info.pruned ? new MerkleTree({ prefix: info.pruned.frontier }) : new MerkleTree();
  const checkpoints: Checkpoint[] = [];
  const first = (info.pruned?.throughSeq ?? 0) + 1;
  for await (const row of reader.rows(first, info.head.size)) {
    tree.push(Buffer.from(row.leaf, 'hex'));
    if (row.type !== 'ledger.checkpointed') continue;
    checkpoints.push((JSON.parse(row.body) as { data: Checkpoint }).data);
  }
  return { tree, checkpoints };
}

function headerOf(
  o: ExportOptions,
  origin: string,
  from: number,
  to: number,
  all: readonly Checkpoint[],
  tree: MerkleTree,
): ExportHeader {
  const checkpoints = all.filter((c) => c.treeSize >= from - 1 || c === all.at(-1));
  const consistency = checkpoints.slice(1).map((c, i) => {
    const prev = checkpoints[i] as Checkpoint;
    return tree.consistencyProof(prev.treeSize, c.treeSize).map((h) => h.toString('hex'));
  });
  return {
    version: EXPORT_VERSION,
    format: o.format,
    ...(o.format === 'ocsf' ? { ocsfVersion: OCSF_VERSION } : {}),
    origin,
    from,
    to,
    publicKeys: [o.publicKeyPem],
    checkpoints,
    consistency,
  };
}

function exportLine(
  format: 'jsonl' | 'ocsf',
  row: EventRow,
  path: Buffer[],
  treeSize: number,
): string {
  const evidence = {
    seq: row.seq,
    body: row.body,
    prev_hash: row.prevHash,
    hash: row.hash,
    proof: { tree_size: treeSize, path: path.map((h) => h.toString('hex')) },
  };
  const event = eventOfRow(row);
  if (format === 'ocsf') return JSON.stringify(toOcsf(event, evidence));
  const { body: _b, leafHash: _l, prevHash: _p, hash: _h, ...fields } = event;
  return JSON.stringify({ event: fields, airlock: evidence });
}

interface Evidence {
  seq: number;
  body: string;
  prev_hash: string;
  hash: string;
  proof: { tree_size: number; path: string[] };
}

/**
 * Verifies an export with no access to the gateway: checkpoint signatures (with `keys`), their
 * consistency, each event's inclusion proof, and the chain between consecutive events.
 *
 * @example
 * const r = await verifyExport('audit.jsonl', [loadPublicKey(pem)]);
 */
export async function verifyExport(
  file: string,
  keys: readonly KeyObject[],
): Promise<VerifyResult> {
  const lines = createInterface({
    input: createReadStream(file),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  try {
    let header: ExportHeader | undefined;
    let state: ReturnType<typeof startExport> | undefined;
    for await (const line of lines) {
      if (line.trim() === '') continue;
      if (header === undefined || state === undefined) {
        header = parseHeader(line);
        state = startExport(header, keys);
        continue;
      }
      checkLine(line, state);
    }
    if (header === undefined || state === undefined)
      throw new Failure(0, 'malformed', 'the export is empty');
    if (header.to !== 0 && state.next !== header.to + 1) {
      throw new Failure(state.next, 'truncated', `the export ends before seq ${header.to}`);
    }
    return {
      ok: true,
      events: state.count,
      checkpoints: header.checkpoints.length,
      treeSize: state.cover.treeSize,
      rootHash: state.cover.rootHash,
    };
  } catch (err) {
    if (err instanceof Failure)
      return { ok: false, seq: err.seq, problem: err.problem, reason: err.message };
    const reason = err instanceof Error ? err.message : String(err);
    return { ok: false, seq: 0, problem: 'bad signature', reason };
  } finally {
    lines.close();
  }
}

function parseHeader(line: string): ExportHeader {
  let parsed: { airlock_export?: ExportHeader };
  try {
    parsed = JSON.parse(line) as { airlock_export?: ExportHeader };
  } catch {
    throw new Failure(0, 'malformed', 'the first line is not JSON');
  }
  const h = parsed.airlock_export;
  if (
    h?.version !== EXPORT_VERSION ||
    !Array.isArray(h.checkpoints) ||
    !Array.isArray(h.consistency)
  ) {
    throw new Failure(0, 'malformed', 'the first line is not an Airlock export header');
  }
  return h;
}

function startExport(h: ExportHeader, keys: readonly KeyObject[]) {
  const cps = h.checkpoints.map((c) => {
    try {
      return checkSignature(c, keys, h.origin, c.treeSize + 1);
    } catch (err) {
      throw new Failure(
        (c as { treeSize?: number }).treeSize ?? 0,
        'bad signature',
        (err as Error).message,
      );
    }
  });
  for (let i = 1; i < cps.length; i++) {
    const a = cps[i - 1] as Checkpoint;
    const b = cps[i] as Checkpoint;
    const proof = (h.consistency[i - 1] ?? []).map((x) => Buffer.from(x, 'hex'));
    const ok = verifyConsistency(a.treeSize, b.treeSize, hex(a.rootHash), hex(b.rootHash), proof);
    if (!ok)
      throw new Failure(
        b.treeSize + 1,
        'altered',
        `checkpoint ${b.treeSize} is not consistent with ${a.treeSize}`,
      );
  }
  const cover = cps.at(-1);
  if (cover === undefined) throw new Failure(0, 'malformed', 'the export has no checkpoint');
  return { cover, root: hex(cover.rootHash), next: h.from, prev: '', count: 0 };
}

function hex(s: string): Buffer {
  return Buffer.from(s, 'hex');
}

function evidenceOf(line: string, at: number): Evidence {
  let x: { airlock?: Evidence; unmapped?: { airlock?: Evidence } };
  try {
    x = JSON.parse(line) as typeof x;
  } catch {
    throw new Failure(at, 'malformed', 'a line is not JSON');
  }
  const e = x.airlock ?? x.unmapped?.airlock;
  if (typeof e?.body !== 'string' || typeof e.seq !== 'number' || !Array.isArray(e.proof?.path)) {
    throw new Failure(at, 'malformed', 'a line carries no Airlock evidence');
  }
  return e;
}

function checkLine(line: string, s: ReturnType<typeof startExport>): void {
  const e = evidenceOf(line, s.next);
  if (e.seq > s.next)
    throw new Failure(s.next, 'removed', `event ${s.next} is missing from the export`);
  if (e.seq < s.next)
    throw new Failure(e.seq, 'inserted', 'an event appears twice or out of order');
  const leaf = leafHash(e.body);
  const path = e.proof.path.map(hex);
  if (
    e.proof.tree_size !== s.cover.treeSize ||
    !verifyInclusion(leaf, e.seq - 1, s.cover.treeSize, path, s.root)
  ) {
    throw new Failure(e.seq, 'altered', 'the event is not included in the signed tree');
  }
  let body: StoredBody;
  try {
    body = JSON.parse(e.body) as StoredBody;
  } catch {
    throw new Failure(e.seq, 'altered', 'the body is not JSON');
  }
  if (body.seq !== e.seq) throw new Failure(e.seq, 'reordered', `the event says it is ${body.seq}`);
  if (
    (s.prev !== '' && e.prev_hash !== s.prev) ||
    chainLink(e.prev_hash, leaf.toString('hex')) !== e.hash
  ) {
    throw new Failure(e.seq, 'reordered', 'the event does not follow the previous one');
  }
  s.prev = e.hash;
  s.next++;
  s.count++;
}
