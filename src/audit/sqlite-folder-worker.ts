/**
 * The gateway's folder thread: folds the ledger's journals into its tables every `FOLD_DELAY_MS`
 * while they grow, and at once when asked (a reader is about to query). It takes only the tables'
 * write lock, so the writer thread's appends never wait for it (see sqlite-folder.ts).
 */

import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { describeError } from './sealer.ts';
import { JournalFolder } from './sqlite-folder.ts';

/** How often the journals are looked at; an event waits about this long to be queryable. */
export const FOLD_DELAY_MS = 50;

export interface FolderInit {
  readonly airlockLedgerFolder: true;
  readonly path: string;
  readonly busyTimeoutMs: number;
}

/** Main thread to folder. */
export type ToFolder = { readonly t: 'fold'; readonly id: number } | { readonly t: 'close' };

/** Folder to main thread: a requested fold is done (or failed, with SQLite's reason). */
export interface FromFolder {
  readonly t: 'folded';
  readonly id: number;
  readonly error?: string;
}

/**
 * Indexing yields to the data path: on a busy machine the folder's CPU (parsing lines, inserting
 * rows) would otherwise delay the thread that appends and the one that relays sessions. Its events
 * wait in the journal meanwhile, durable; a reader's fold request is still served.
 */
const FOLDER_NICE = 10;

/** Lowers this thread's CPU priority (Linux: a thread id is a pid for setpriority). */
function yieldToDataPath(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').at(-1));
    if (Number.isSafeInteger(tid) && tid > 0) setPriority(tid, FOLDER_NICE);
  } catch {
    // Not Linux, or not allowed: the folder runs at the gateway's priority.
  }
}

function runFolder(init: FolderInit, port: MessagePort): void {
  yieldToDataPath();
  let folder: JournalFolder | undefined;
  const fold = (): string | undefined => {
    try {
      folder ??= new JournalFolder(init.path, {
        busyTimeoutMs: init.busyTimeoutMs,
        lazySync: true,
      });
      if (folder.hasNew()) folder.fold();
      return undefined;
    } catch (err) {
      // Tried again on the next tick with a fresh connection; the events wait in the journal.
      folder?.close();
      folder = undefined;
      return describeError(err);
    }
  };
  const timer = setInterval(fold, FOLD_DELAY_MS);
  port.on('message', (m: ToFolder) => {
    if (m.t === 'close') {
      clearInterval(timer);
      fold();
      folder?.close();
      port.close();
      return;
    }
    const error = fold();
    port.postMessage({ t: 'folded', id: m.id, ...(error ? { error } : {}) } satisfies FromFolder);
  });
}

const init = workerData as Partial<FolderInit> | null;
if (parentPort !== null && init?.airlockLedgerFolder === true) {
  runFolder(init as FolderInit, parentPort);
}
