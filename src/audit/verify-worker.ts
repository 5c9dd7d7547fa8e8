/**
 * A verifier thread for verify-parallel.ts: opens the embedded ledger read-only and checks the
 * chunks it is sent, one at a time.
 */

import { DatabaseSync } from 'node:sqlite';
import { parentPort, workerData } from 'node:worker_threads';
import { readRows } from './sqlite-reader.ts';
import { type ChunkJob, checkChunk } from './verify-parallel.ts';

interface VerifyWorkerInit {
  readonly airlockVerifyWorker: true;
  readonly path: string;
}

const init = workerData as Partial<VerifyWorkerInit> | null;
if (parentPort !== null && init?.airlockVerifyWorker === true && init.path !== undefined) {
  const port = parentPort;
  const db = new DatabaseSync(init.path, { readOnly: true, timeout: 5000 });
  const read = (from: number, to: number, limit: number) => readRows(db, from, to, limit);
  port.on('message', (job: ChunkJob) => port.postMessage(checkChunk(read, job)));
}
