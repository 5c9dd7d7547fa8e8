/** The embedded store's `meta` table, read by its writer and its readers, and its rollback. */

import type { DatabaseSync } from 'node:sqlite';
import { type PrunedState, prunedFromJson } from './store.ts';

/**
 * A `meta` value, undefined when the key is not set.
 *
 * @example
 * metaValue(db, 'schema_version'); // '4'
 */
export function metaValue(db: DatabaseSync, key: string): string | undefined {
  const row = db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as
    | { value: string }
    | undefined;
  return row?.value;
}

/**
 * What pruning left behind, null when the ledger was never pruned.
 *
 * @example
 * const first = (readPruned(db)?.throughSeq ?? 0) + 1;
 */
export function readPruned(db: DatabaseSync): PrunedState | null {
  return prunedFromJson(metaValue(db, 'pruned'));
}

/**
 * Rolls back the open transaction, if SQLite has not already done so itself (it does after some
 * errors); never throws, so that the caller's own error is the one reported.
 *
 * @example
 * try { ... } catch (err) { rollbackQuietly(db); throw err; }
 */
export function rollbackQuietly(db: DatabaseSync): void {
  try {
    if (db.isTransaction) db.exec('ROLLBACK');
  } catch {
    // Nothing to undo.
  }
}
