/**
 * The newest signed checkpoint, kept next to the signing key and apart from the log: deleting the
 * newest events from the store (and their checkpoint events) cannot hide from a verifier that
 * compares the store with this file.
 */

import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Checkpoint } from './checkpoint.ts';

/** `<dir of the signing key>/latest-checkpoint.json`. */
export function latestCheckpointPath(signingKeyFile: string): string {
  return join(dirname(signingKeyFile), 'latest-checkpoint.json');
}

/** The stored checkpoint, or null when there is none; throws on a file that is not JSON. */
export function readLatestCheckpoint(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return JSON.parse(text) as unknown;
}

/**
 * Replaces the file atomically (temp, fsync, rename) unless it already holds a larger tree, so two
 * writers sharing one store never move it backwards.
 *
 * @example
 * writeLatestCheckpoint('/var/lib/airlock/keys/latest-checkpoint.json', cp);
 */
export function writeLatestCheckpoint(file: string, cp: Checkpoint): void {
  try {
    const current = readLatestCheckpoint(file) as { treeSize?: unknown } | null;
    if (typeof current?.treeSize === 'number' && current.treeSize > cp.treeSize) return;
  } catch {
    // An unreadable file is replaced.
  }
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(cp)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  syncDir(dirname(file));
}

function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Not every filesystem lets a directory be fsynced; the rename is still atomic.
  }
}
