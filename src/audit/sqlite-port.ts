/**
 * The main thread's side of the embedded store's writer thread: posts batches, matches the
 * acknowledgements, and turns a crashed, failed or stuck worker into rejected writes. The next
 * write after a failure starts a fresh worker.
 */

import { performance } from 'node:perf_hooks';
import type { Worker } from 'node:worker_threads';
import { toSealItem, toSealItems } from './sealer.ts';
import type { FolderInit, FromFolder, ToFolder } from './sqlite-folder-worker.ts';
import { encodeSealItems } from './sqlite-wire.ts';
import type { FromWorker, ToWorker, WorkerInit, WorkerItem } from './sqlite-worker.ts';
import type { LedgerWriterPort, WriteResults } from './store.ts';
import { startAuditWorker } from './worker-start.ts';

export interface SqlitePortOptions {
  readonly path: string;
  readonly sync: 'full' | 'normal';
  readonly busyTimeoutMs: number;
  /** A write not acknowledged within this time fails and the worker is replaced. */
  readonly writeTimeoutMs: number;
  readonly signingKeyFile?: string | undefined;
  readonly latestCheckpointFile?: string | undefined;
  /** Tests only: the first worker dies inside its Nth transaction, before COMMIT. */
  readonly crashOnTransaction?: number | undefined;
  /**
   * Fold the journals into the tables in a thread of their own (a gateway), rather than in the
   * writer thread between appends (a short CLI command).
   */
  readonly background?: boolean;
}

interface Pending {
  readonly resolve: (r: WriteResults) => void;
  readonly reject: (err: Error) => void;
  readonly sentAt: number;
}

/** The folder thread (sqlite-folder-worker.ts) and the fold requests it has not answered. */
interface Folder {
  readonly worker: Worker;
  readonly waiting: Map<number, { resolve: () => void; reject: (err: Error) => void }>;
  readonly exited: Promise<void>;
}

interface Handle {
  readonly worker: Worker;
  readonly pending: Map<number, Pending>;
  readonly exited: Promise<void>;
  timer: NodeJS.Timeout | undefined;
  dead: boolean;
  closing: boolean;
}

/**
 * @example
 * const port = new SqlitePort({ path, sync: 'full', busyTimeoutMs: 5000, writeTimeoutMs: 15000 });
 * const [seq] = await port.write([{ type: 'session.started', time: Date.now() }]);
 */
export class SqlitePort implements LedgerWriterPort {
  /** The writer thread commits whatever has arrived in one transaction (group commit). */
  readonly maxInFlight = 16;
  readonly #options: SqlitePortOptions;
  #crashOnTransaction: number | undefined;
  #handle: Handle | undefined;
  #folder: Folder | undefined;
  #nextId = 1;
  /** Workers started, including the first. */
  workerStarts = 0;
  /** Transactions the writer threads committed. */
  commits = 0;

  constructor(options: SqlitePortOptions) {
    this.#options = options;
    this.#crashOnTransaction = options.crashOnTransaction;
  }

  /**
   * Events are serialised on this thread as they are appended, while the writer thread seals and
   * commits the batch before: the threads share the work, and flat strings cross cheaply.
   */
  prepare(item: WorkerItem): WorkerItem {
    return toSealItem(item);
  }

  write(events: readonly WorkerItem[]): Promise<WriteResults> {
    const items = encodeSealItems(toSealItems(events));
    return this.#send((id) => ({ t: 'batch', id, items }));
  }

  /** Folds the journals into the tables (see sqlite-journal.ts); resolves once it is done. */
  async fold(): Promise<void> {
    const folder = this.#folder;
    if (folder === undefined) {
      await this.#send((id) => ({ t: 'fold', id }));
      return;
    }
    const id = this.#nextId++;
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    folder.waiting.set(id, { resolve, reject });
    folder.worker.ref();
    folder.worker.postMessage({ t: 'fold', id } satisfies ToFolder);
    await promise;
  }

  async prune(beforeMs: number, time: number): Promise<number> {
    const [through] = await this.#send((id) => ({ t: 'prune', id, beforeMs, time }));
    return typeof through === 'number' ? through : 0;
  }

  async close(): Promise<void> {
    const folder = this.#folder;
    this.#folder = undefined;
    if (folder !== undefined) {
      folder.worker.ref();
      folder.worker.postMessage({ t: 'close' } satisfies ToFolder);
      await folder.exited;
    }
    const h = this.#handle;
    if (h === undefined || h.dead) return;
    h.closing = true;
    h.worker.ref();
    h.worker.postMessage({ t: 'close' } satisfies ToWorker);
    const timer = setTimeout(
      () => this.#fail(h, new Error('close timed out')),
      this.#options.writeTimeoutMs,
    );
    await h.exited;
    clearTimeout(timer);
  }

  #send(message: (id: number) => Exclude<ToWorker, { t: 'close' }>): Promise<WriteResults> {
    const h = this.#ensure();
    const id = this.#nextId++;
    h.worker.postMessage(message(id));
    const { promise, resolve, reject } = Promise.withResolvers<WriteResults>();
    if (h.pending.size === 0) h.worker.ref();
    h.pending.set(id, { resolve, reject, sentAt: performance.now() });
    this.#armTimer(h);
    return promise;
  }

  #ensure(): Handle {
    if (this.#handle !== undefined && !this.#handle.dead) return this.#handle;
    const init: WorkerInit = {
      airlockLedgerWorker: true,
      path: this.#options.path,
      sync: this.#options.sync,
      busyTimeoutMs: this.#options.busyTimeoutMs,
      signingKeyFile: this.#options.signingKeyFile,
      latestCheckpointFile: this.#options.latestCheckpointFile,
      crashOnTransaction: this.#crashOnTransaction,
      foldInline: this.#options.background !== true,
    };
    this.#crashOnTransaction = undefined;
    const worker = startAuditWorker('sqlite-worker', init);
    const { promise: exited, resolve } = Promise.withResolvers<void>();
    const h: Handle = {
      worker,
      pending: new Map(),
      exited,
      timer: undefined,
      dead: false,
      closing: false,
    };
    worker.on('message', (m: FromWorker) => this.#onMessage(h, m));
    worker.on('error', (err) => this.#fail(h, err));
    worker.on('exit', (code) => {
      this.#fail(h, new Error(`the ledger writer exited with code ${code}`));
      resolve();
    });
    worker.unref();
    this.workerStarts++;
    this.#handle = h;
    return h;
  }

  #onMessage(h: Handle, m: FromWorker): void {
    if (m.t === 'failed') {
      this.#fail(h, new Error(m.reason));
      return;
    }
    // After the first acknowledged write the ledger and its journals exist: the folder can start.
    if (this.#options.background && this.#folder === undefined && !h.closing) this.#startFolder();
    this.commits += m.commits;
    for (const r of m.results) {
      const p = h.pending.get(r.id);
      h.pending.delete(r.id);
      p?.resolve(r.seqs);
    }
    if (h.pending.size === 0) this.#idle(h);
  }

  #startFolder(): void {
    const init: FolderInit = {
      airlockLedgerFolder: true,
      path: this.#options.path,
      busyTimeoutMs: this.#options.busyTimeoutMs,
    };
    const worker = startAuditWorker('sqlite-folder-worker', init);
    const { promise: exited, resolve } = Promise.withResolvers<void>();
    const folder: Folder = { worker, waiting: new Map(), exited };
    const settle = (id: number, error?: string): void => {
      const w = folder.waiting.get(id);
      folder.waiting.delete(id);
      if (error === undefined) w?.resolve();
      else w?.reject(new Error(error));
      if (folder.waiting.size === 0) worker.unref();
    };
    worker.on('message', (m: FromFolder) => settle(m.id, m.error));
    worker.on('error', () => undefined);
    worker.on('exit', () => {
      if (this.#folder === folder) this.#folder = undefined;
      for (const id of [...folder.waiting.keys()]) settle(id, 'the ledger folder exited');
      resolve();
    });
    worker.unref();
    this.#folder = folder;
  }

  #idle(h: Handle): void {
    clearTimeout(h.timer);
    h.timer = undefined;
    if (!h.closing) h.worker.unref();
  }

  /** Rejects everything the worker holds and retires it. */
  #fail(h: Handle, cause: Error): void {
    if (!h.dead) {
      h.dead = true;
      if (this.#handle === h) this.#handle = undefined;
      h.worker.terminate().catch(() => undefined);
    }
    for (const p of h.pending.values()) p.reject(cause);
    h.pending.clear();
    this.#idle(h);
  }

  #armTimer(h: Handle): void {
    if (h.timer !== undefined) return;
    const oldest = h.pending.values().next().value;
    if (oldest === undefined) return;
    const timeout = this.#options.writeTimeoutMs;
    const wait = Math.max(0, oldest.sentAt + timeout - performance.now());
    h.timer = setTimeout(() => {
      h.timer = undefined;
      const first = h.pending.values().next().value;
      if (first !== undefined && performance.now() - first.sentAt >= timeout) {
        this.#fail(h, new Error('the ledger writer did not acknowledge in time'));
      } else {
        this.#armTimer(h);
      }
    }, wait);
    h.timer.unref();
  }
}
