/**
 * Plays an asciicast v2 recording: output events written with their original timing (divided by
 * `speed`, idle gaps capped at `maxIdleMs`), or all at once (`raw`). Writing and sleeping are
 * injected, so the schedule is testable without a clock. Recordings are read only through
 * `readVerified`, which refuses one that no longer hashes to what the ledger recorded.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { parseAsciicast } from './asciicast.ts';

export interface PlayOptions {
  readonly speed: number;
  /** Longest pause between two events, in ms (before the speed-up). */
  readonly maxIdleMs?: number | undefined;
  /** Write the output at once, without timing. */
  readonly raw: boolean;
  readonly write: (text: string) => void;
  readonly sleep: (ms: number) => Promise<void>;
}

/**
 * @example
 * await play(text, { speed: 2, raw: false, write: (s) => process.stdout.write(s), sleep });
 */
export async function play(
  text: string,
  opts: PlayOptions,
): Promise<{ events: number; playedMs: number }> {
  const { events } = parseAsciicast(text);
  let last = 0;
  let playedMs = 0;
  let n = 0;
  for (const e of events) {
    if (e.code !== 'o') continue;
    if (!opts.raw) {
      const gap = Math.max(0, (e.time - last) * 1000);
      const wait = Math.min(gap, opts.maxIdleMs ?? Number.POSITIVE_INFINITY) / opts.speed;
      if (wait >= 1) await opts.sleep(wait);
      playedMs += wait;
    }
    last = e.time;
    opts.write(e.data);
    n += 1;
  }
  return { events: n, playedMs };
}

/** A recording that no longer is what the ledger recorded: other bytes, gone, or out of its folder. */
export class RecordingAltered extends Error {}

/** A recording larger than the reader accepts (`maxBytes`); it was not read. */
export class RecordingTooLarge extends Error {}

/**
 * Reads a recording under `recordingsDir` and checks it against the SHA-256 in the ledger. Reads
 * at most `maxBytes` (default: no limit), and only the bytes the file held when it was opened.
 *
 * @example
 * const text = await readVerified(join(dataDir, 'recordings'), event.data.file, event.data.sha256);
 */
export async function readVerified(
  recordingsDir: string,
  file: string,
  sha256: string,
  opts: { readonly maxBytes?: number } = {},
): Promise<string> {
  const name = join('recordings', file);
  const bytes = await readBounded(insideFolder(recordingsDir, file), name, opts.maxBytes);
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== sha256) {
    throw new RecordingAltered(
      `recording ${name} does not match the ledger (sha256 ${actual.slice(0, 16)}…, recorded ${sha256.slice(0, 16)}…)`,
    );
  }
  return bytes.toString('utf8');
}

/** `file` resolved under `dir`; refuses a path that leaves it (`..`, absolute paths). */
function insideFolder(dir: string, file: string): string {
  const path = resolve(dir, file);
  const rel = relative(resolve(dir), path);
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new RecordingAltered(`recording path ${file} leaves the folder`);
  }
  return path;
}

async function readBounded(path: string, name: string, maxBytes = Infinity): Promise<Buffer> {
  const fh = await open(path, 'r').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new RecordingAltered(`recording ${name} is missing`);
    throw err;
  });
  try {
    const stat = await fh.stat();
    if (!stat.isFile()) throw new RecordingAltered(`recording ${name} is not a file`);
    if (stat.size > maxBytes) {
      throw new RecordingTooLarge(
        `recording ${name} is ${mib(stat.size)} MiB, more than ${mib(maxBytes)} MiB`,
      );
    }
    const bytes = Buffer.alloc(stat.size);
    let at = 0;
    while (at < bytes.length) {
      const { bytesRead } = await fh.read(bytes, at, bytes.length - at, at);
      if (bytesRead === 0) break;
      at += bytesRead;
    }
    return bytes.subarray(0, at);
  } finally {
    await fh.close();
  }
}

function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}
