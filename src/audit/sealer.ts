/**
 * The writer's core, shared by every store: given the head of the log (size, last chain hash and
 * the Merkle frontier), seal a batch of prepared events and checkpoint requests into rows. It runs
 * inside the store's write lock, so it does no I/O and never throws for one bad item.
 */

import { GENESIS_HASH } from './canonical.ts';
import { type Checkpoint, type SigningKey, signCheckpoint } from './checkpoint.ts';
import { type EventRow, type PreparedEvent, prepareEvent, sealEvent } from './event-codec.ts';
import { MerkleFrontier } from './merkle.ts';
import type { LedgerItem } from './store.ts';

/** The state a writer needs to continue the log. */
export interface LedgerHead {
  /** Number of events ever appended (the last seq). */
  readonly size: number;
  readonly lastHash: string;
  /** Seq of the newest `ledger.checkpointed` event, 0 when none. */
  readonly checkpointSeq: number;
  readonly frontier: MerkleFrontier;
}

/** Ask the writer to sign a checkpoint over everything before it in the batch. */
export interface CheckpointRequest {
  readonly checkpoint: true;
  readonly time: number;
}

/** One item of a batch: a prepared event, a checkpoint request, or why the event was refused. */
export type SealItem = PreparedEvent | CheckpointRequest | { readonly refused: string };

export interface SealContext {
  /** The ledger's id, signed into every checkpoint. */
  readonly origin: string;
  /** Needed only when the batch has checkpoint requests. */
  readonly signer?: SigningKey | undefined;
}

export interface SealedBatch {
  readonly rows: EventRow[];
  /** Per item: its seq, 0 for a checkpoint with nothing new to cover, or why it was refused. */
  readonly results: (number | string)[];
  readonly head: LedgerHead;
  /** The checkpoints signed in this batch, newest last. */
  readonly checkpoints: Checkpoint[];
}

/** Head of an empty log. */
export function emptyHead(): LedgerHead {
  return { size: 0, lastHash: GENESIS_HASH, checkpointSeq: 0, frontier: new MerkleFrontier() };
}

/**
 * @example
 * const { rows, head } = sealBatch(head, [prepareEvent(e)], { origin });
 */
export function sealBatch(start: LedgerHead, items: readonly SealItem[], ctx: SealContext) {
  const frontier = start.frontier.clone();
  let { size, lastHash, checkpointSeq } = start;
  const rows: EventRow[] = [];
  const results: (number | string)[] = [];
  const checkpoints: Checkpoint[] = [];
  const push = (p: PreparedEvent): number => {
    const row = sealEvent(p, size + 1, lastHash);
    rows.push(row);
    frontier.pushHex(row.leaf);
    size = row.seq;
    lastHash = row.hash;
    return size;
  };
  for (const item of items) {
    if ('refused' in item) {
      results.push(item.refused);
    } else if ('checkpoint' in item) {
      if (size === 0 || checkpointSeq === size) {
        results.push(0);
        continue;
      }
      if (ctx.signer === undefined) {
        results.push('no signing key');
        continue;
      }
      const cp = signCheckpoint(ctx.signer, {
        origin: ctx.origin,
        treeSize: size,
        rootHash: frontier.root().toString('hex'),
        time: new Date(item.time).toISOString(),
      });
      checkpoints.push(cp);
      checkpointSeq = push(checkpointEvent(cp, item.time));
      results.push(checkpointSeq);
    } else {
      results.push(push(item));
    }
  }
  const head: LedgerHead = { size, lastHash, checkpointSeq, frontier };
  const batch: SealedBatch = { rows, results, head, checkpoints };
  return batch;
}

function checkpointEvent(cp: Checkpoint, time: number): PreparedEvent {
  return prepareEvent({ type: 'ledger.checkpointed', time, data: { ...cp } });
}

/** Head as a store keeps it in one row. */
export interface StoredHead {
  readonly size: number;
  readonly lastHash: string;
  readonly checkpointSeq: number;
  readonly frontier: string;
}

export function headToStored(h: LedgerHead): StoredHead {
  return {
    size: h.size,
    lastHash: h.lastHash,
    checkpointSeq: h.checkpointSeq,
    frontier: JSON.stringify(h.frontier.toJSON()),
  };
}

/**
 * Parses a stored head, reusing `cached` when it describes the same state (the common case of one
 * writer), so the frontier is not re-parsed on every transaction.
 */
export function headFromStored(s: StoredHead, cached?: LedgerHead): LedgerHead {
  if (cached !== undefined && cached.size === s.size && cached.lastHash === s.lastHash) {
    return cached;
  }
  const frontier = MerkleFrontier.fromJSON(JSON.parse(s.frontier));
  if (frontier.size !== s.size) throw new Error('the ledger head is inconsistent');
  return { size: s.size, lastHash: s.lastHash, checkpointSeq: s.checkpointSeq, frontier };
}

/** A one-line reason for the main thread: SQLite's code and text, never event content. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const sqlite = err as Error & { errcode?: number; errstr?: string };
    return sqlite.errcode === undefined
      ? err.message
      : `sqlite error ${sqlite.errcode} (${sqlite.errstr ?? 'unknown'}): ${err.message}`;
  }
  return String(err);
}

/** Prepares each event outside the lock, then writes the valid ones in one transaction. */
export function toSealItems(items: readonly LedgerItem[]): SealItem[] {
  return items.map(toSealItem);
}

/** One item ready for `sealBatch`: an event is prepared, or refused with the reason. */
export function toSealItem(e: LedgerItem): SealItem {
  if ('checkpoint' in e || 'refused' in e || 'head' in e) return e;
  try {
    return prepareEvent(e);
  } catch (err) {
    return { refused: `invalid audit event: ${describeError(err)}` };
  }
}
