/**
 * Plays an asciicast v2 recording: output events written with their original timing (divided by
 * `speed`, idle gaps capped at `maxIdleMs`), or all at once (`raw`). Writing and sleeping are
 * injected, so the schedule is testable without a clock.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
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

/** A recording whose bytes no longer hash to what the ledger recorded. */
export class RecordingAltered extends Error {}

/**
 * Reads a recording under `recordingsDir` and checks it against the SHA-256 in the ledger.
 *
 * @example
 * const text = readVerified(join(dataDir, 'recordings'), event.data.file, event.data.sha256);
 */
export function readVerified(recordingsDir: string, file: string, sha256: string): string {
  const path = resolve(recordingsDir, file);
  const rel = relative(resolve(recordingsDir), path);
  if (rel.startsWith('..') || isAbsolute(rel))
    throw new RecordingAltered(`recording path ${file} leaves the folder`);
  const bytes = readFileSync(path);
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== sha256) {
    throw new RecordingAltered(
      `recording ${join('recordings', file)} does not match the ledger (sha256 ${actual.slice(0, 16)}…, recorded ${sha256.slice(0, 16)}…)`,
    );
  }
  return bytes.toString('utf8');
}
