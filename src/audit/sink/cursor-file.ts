/**
 * A sink's delivery cursor on disk: the seq of the last event its receiver acknowledged.
 * Written atomically (temp file, fsync, rename, fsync of the directory) so that a crash leaves
 * either the old cursor or the new one, never a torn file.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * The stored cursor, or 0 when there is none yet. Throws when the file exists but is not a
 * cursor: silently restarting from 0 would re-send the whole ledger.
 *
 * @example
 * const cursor = await readCursorFile('.airlock/sinks/siem.cursor'); // 0 on first start
 */
export async function readCursorFile(file: string): Promise<number> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  const seq = parseCursor(text);
  if (seq === null) throw new Error(`sink cursor file is not valid: ${file}`);
  return seq;
}

function parseCursor(text: string): number | null {
  try {
    const seq = (JSON.parse(text) as { seq?: unknown } | null)?.seq;
    return Number.isSafeInteger(seq) && (seq as number) >= 0 ? (seq as number) : null;
  } catch {
    return null;
  }
}

/**
 * Persists the cursor with mode 0600 (the directory is created with 0700).
 *
 * @example
 * await writeCursorFile('.airlock/sinks/siem.cursor', 1500);
 */
export async function writeCursorFile(file: string, seq: number): Promise<void> {
  const dir = dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeSynced(tmp, `${JSON.stringify({ seq })}\n`);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await syncDirectory(dir);
}

async function writeSynced(path: string, text: string): Promise<void> {
  const fh = await open(path, 'wx', 0o600);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Makes the rename durable. Some platforms cannot open a directory; the rename still holds. */
async function syncDirectory(dir: string): Promise<void> {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // Best effort: Windows and some network file systems refuse to fsync a directory.
  } finally {
    await fh?.close();
  }
}
