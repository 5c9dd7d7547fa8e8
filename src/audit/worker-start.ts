/**
 * Starts one of the audit module's worker threads from its source file (`.ts` when running the
 * sources, `.js` when compiled).
 */

import { Worker } from 'node:worker_threads';

/**
 * Workers inherit the parent's execArgv, and an inherited `--input-type` (as in
 * `node --input-type=module -e ...`) makes a worker started from a file fail. An explicit list is
 * not a fix: it is validated against worker-safe flags, and under `node --test` the inherited
 * flags include some that `new Worker` then refuses. So start that worker with no flags at all.
 */
function workerExecArgv(): { execArgv?: string[] } {
  return process.execArgv.some((a) => a.startsWith('--input-type')) ? { execArgv: [] } : {};
}

/**
 * @example
 * const worker = startAuditWorker('verify-worker', { airlockVerifyWorker: true, path });
 */
export function startAuditWorker(
  name: 'sqlite-worker' | 'sqlite-folder-worker' | 'verify-worker',
  data: unknown,
): Worker {
  const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  return new Worker(new URL(`./${name}.${ext}`, import.meta.url), {
    workerData: data,
    ...workerExecArgv(),
  });
}
