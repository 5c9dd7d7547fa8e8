/**
 * The ledger's writer thread for the embedded store. Batches that arrive while a group commit is
 * being flushed wait in the port's queue; the next flush drains them all and appends them to the
 * journal in one write (group commit). Between appends the thread folds the journal into the
 * tables: at once when `FOLD_EVENTS` are waiting, otherwise `FOLD_DELAY_MS` after the first.
 */

import {
  type MessagePort,
  parentPort,
  receiveMessageOnPort,
  workerData,
} from 'node:worker_threads';
import { loadOrCreateSigningKey } from './checkpoint.ts';
import { describeError } from './sealer.ts';
import { SqliteStoreWriter } from './sqlite-store.ts';
import { decodeSealItems, type SealWire } from './sqlite-wire.ts';
import type { LedgerItem } from './store.ts';

export type WorkerItem = LedgerItem;

/** Main thread to worker. */
export type ToWorker =
  | {
      readonly t: 'batch';
      readonly id: number;
      /** The batch's items as `encodeSealItems` wrote them. */
      readonly items: SealWire;
    }
  | { readonly t: 'prune'; readonly id: number; readonly beforeMs: number; readonly time: number }
  /** Fold the journal into the tables now (a reader is about to query them). */
  | { readonly t: 'fold'; readonly id: number }
  | { readonly t: 'close' };

/** One batch's outcome: per item a seq, 0, or the reason it was refused (never its content). */
export interface BatchResult {
  readonly id: number;
  readonly seqs: readonly (number | string)[];
}

/** Worker to main thread. `failed` is the worker's last message: it closes and exits after it. */
export type FromWorker =
  | {
      readonly t: 'ack';
      readonly results: readonly BatchResult[];
      readonly events: number;
      readonly commits: number;
    }
  | { readonly t: 'failed'; readonly reason: string };

export interface WorkerInit {
  readonly airlockLedgerWorker: true;
  readonly path: string;
  readonly sync: 'full' | 'normal';
  readonly busyTimeoutMs: number;
  readonly signingKeyFile?: string | undefined;
  readonly latestCheckpointFile?: string | undefined;
  /** Fault injection for tests: the worker dies inside this transaction, before COMMIT. */
  readonly crashOnTransaction?: number | undefined;
  /** Fold the journals between appends (no folder thread). */
  readonly foldInline: boolean;
}

type Job = Exclude<ToWorker, { t: 'close' }>;

/** Events waiting in the journal that make the next flush fold them right away. */
const FOLD_EVENTS = 2048;
/** The longest an event waits in the journal before it is folded, when appends are few. */
const FOLD_DELAY_MS = 20;

function runJobs(writer: SqliteStoreWriter, jobs: readonly Job[]): FromWorker {
  const before = writer.transactions;
  const batches = jobs
    .filter((j) => j.t === 'batch')
    .map((b) => ({ id: b.id, items: decodeSealItems(b.items) }));
  const seqs = writer.write(batches.flatMap((b) => b.items));
  const results: BatchResult[] = [];
  let at = 0;
  for (const b of batches) {
    results.push({ id: b.id, seqs: seqs.slice(at, at + b.items.length) });
    at += b.items.length;
  }
  for (const j of jobs) {
    if (j.t === 'prune') results.push({ id: j.id, seqs: [writer.prune(j.beforeMs, j.time)] });
  }
  if (jobs.some((j) => j.t === 'fold')) {
    writer.fold();
    for (const j of jobs) if (j.t === 'fold') results.push({ id: j.id, seqs: [] });
  }
  const events = seqs.filter((s) => typeof s === 'number' && s > 0).length;
  return { t: 'ack', results, events, commits: writer.transactions - before };
}

function runWorker(init: WorkerInit, port: MessagePort): void {
  const writer = openWriter(init, port);
  if (writer === undefined) return;
  const queue: Job[] = [];
  let closing = false;
  let scheduled = false;
  let foldTimer: NodeJS.Timeout | undefined;
  const receive = (m: ToWorker): void => {
    if (m.t === 'close') closing = true;
    else queue.push(m);
  };
  const fail = (err: unknown): void => {
    port.postMessage({ t: 'failed', reason: describeError(err) } satisfies FromWorker);
    closing = true;
  };
  const fold = (): void => {
    clearTimeout(foldTimer);
    foldTimer = undefined;
    try {
      writer.fold();
    } catch (err) {
      fail(err);
      shutDown();
    }
  };
  const shutDown = (): void => {
    clearTimeout(foldTimer);
    writer.close();
    port.close();
  };
  const flush = (): void => {
    scheduled = false;
    for (let r = receiveMessageOnPort(port); r; r = receiveMessageOnPort(port)) {
      receive(r.message as ToWorker);
    }
    try {
      if (queue.length > 0) port.postMessage(runJobs(writer, queue.splice(0)));
    } catch (err) {
      fail(err);
    }
    if (closing) {
      shutDown();
      return;
    }
    if (!init.foldInline) return;
    if (writer.unfolded >= FOLD_EVENTS) fold();
    else if (writer.unfolded > 0 && foldTimer === undefined) {
      foldTimer = setTimeout(fold, FOLD_DELAY_MS);
    }
  };
  port.on('message', (m: ToWorker) => {
    receive(m);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  });
}

function openWriter(init: WorkerInit, port: MessagePort): SqliteStoreWriter | undefined {
  const beforeCommit = (n: number): void => {
    if (n === init.crashOnTransaction) process.exit(70);
  };
  try {
    const signer =
      init.signingKeyFile === undefined ? undefined : loadOrCreateSigningKey(init.signingKeyFile);
    return new SqliteStoreWriter(init.path, {
      sync: init.sync,
      busyTimeoutMs: init.busyTimeoutMs,
      signer,
      latestCheckpointFile: init.latestCheckpointFile,
      beforeCommit,
    });
  } catch (err) {
    port.postMessage({ t: 'failed', reason: describeError(err) } satisfies FromWorker);
    port.close();
    return undefined;
  }
}

const init = workerData as Partial<WorkerInit> | null;
if (parentPort !== null && init?.airlockLedgerWorker === true) {
  runWorker(init as WorkerInit, parentPort);
}
