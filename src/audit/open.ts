/**
 * Opens the configured store: the ledger for a gateway or a writing CLI command, or a reader for
 * the CLI's query, verify and export commands.
 */

import { createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AirlockConfig } from '../config/schema.ts';
import type { GatewayError } from '../errors.ts';
import { loadOrCreateSigningKey } from './checkpoint.ts';
import { latestCheckpointPath, readLatestCheckpoint } from './latest-checkpoint.ts';
import { Ledger } from './ledger.ts';
import { PostgresStore } from './postgres-store.ts';
import { SqlitePort } from './sqlite-port.ts';
import { SqliteStoreReader } from './sqlite-reader.ts';
import { LEDGER_FILE_NAME } from './sqlite-store.ts';
import type { LedgerReader } from './store.ts';
import { type VerifyResult, verifyLedger } from './verify.ts';
import { type ParallelVerifyOptions, verifyLedgerParallel } from './verify-parallel.ts';

export type AuditConfig = AirlockConfig['audit'];

export interface OpenLedgerOptions {
  readonly audit: AuditConfig;
  readonly dataDir: string;
  readonly clock?: () => number;
  readonly onError?: (err: GatewayError) => void;
  readonly onCommit?: () => void;
  /** Overrides `audit.checkpoint_interval_ms` (0: only at shutdown), e.g. for CLI commands. */
  readonly checkpointIntervalMs?: number;
  /**
   * A long-running writer (the gateway): the embedded store folds its journals into the tables in
   * a thread of its own. A CLI command folds between its appends and when it closes.
   */
  readonly background?: boolean;
  /** Tests: embedded-store fault injection and timings. */
  readonly testing?: {
    readonly crashOnTransaction?: number;
    readonly writeTimeoutMs?: number;
    readonly busyTimeoutMs?: number;
    readonly restartBackoffMs?: { readonly initial: number; readonly max: number };
  };
}

/** The signing key's file: configured, or `<data_dir>/keys/ledger-signing-key.pem`. */
export function signingKeyFile(audit: AuditConfig, dataDir: string): string {
  return audit.signing_key_file ?? join(dataDir, 'keys', 'ledger-signing-key.pem');
}

/**
 * @example
 * const ledger = await openLedger({ audit: config.audit, dataDir: config.data_dir });
 */
export async function openLedger(o: OpenLedgerOptions): Promise<Ledger> {
  const keyFile = signingKeyFile(o.audit, o.dataDir);
  const latestFile = latestCheckpointPath(keyFile);
  const common = {
    checkpointIntervalMs: o.checkpointIntervalMs ?? o.audit.checkpoint_interval_ms,
    retentionMs: o.audit.retention_days === undefined ? undefined : o.audit.retention_days * 864e5,
    ...(o.clock ? { clock: o.clock } : {}),
    ...(o.onError ? { onError: o.onError } : {}),
    ...(o.onCommit ? { onCommit: o.onCommit } : {}),
    ...(o.testing?.restartBackoffMs ? { restartBackoffMs: o.testing.restartBackoffMs } : {}),
  };
  if (o.audit.store.kind === 'postgres') {
    const store = await PostgresStore.open({
      url: o.audit.store.url.reveal(),
      signer: loadOrCreateSigningKey(keyFile),
      latestCheckpointFile: latestFile,
    });
    return new Ledger({ port: store, reader: store, ...common });
  }
  const path = join(o.dataDir, LEDGER_FILE_NAME);
  const busyTimeoutMs = o.testing?.busyTimeoutMs ?? 5000;
  const port = new SqlitePort({
    path,
    sync: o.audit.sync,
    busyTimeoutMs,
    writeTimeoutMs: o.testing?.writeTimeoutMs ?? busyTimeoutMs + 10_000,
    signingKeyFile: keyFile,
    latestCheckpointFile: latestFile,
    crashOnTransaction: o.testing?.crashOnTransaction,
    background: o.background === true,
  });
  const reader = new SqliteStoreReader(path, busyTimeoutMs, () => port.fold());
  return new Ledger({ port, reader, ...common });
}

/** A read-only view of the configured store. */
export async function openReader(audit: AuditConfig, dataDir: string): Promise<LedgerReader> {
  if (audit.store.kind === 'postgres') {
    return PostgresStore.open({ url: audit.store.url.reveal() });
  }
  return new SqliteStoreReader(join(dataDir, LEDGER_FILE_NAME));
}

/** The public half of the local signing key, or undefined when there is no key yet. */
export function localPublicKey(audit: AuditConfig, dataDir: string): KeyObject | undefined {
  const file = signingKeyFile(audit, dataDir);
  if (!existsSync(file)) return undefined;
  return createPublicKey(loadOrCreateSigningKey(file).publicKeyPem);
}

export interface VerifyStoreOptions {
  /**
   * Spread a large embedded ledger over worker threads (default), with these settings, or
   * `false` for one pass on this thread. The result is the same either way.
   */
  readonly parallel?: ParallelVerifyOptions | false;
}

/**
 * Verifies the configured store end to end, against the newest checkpoint kept next to the key.
 *
 * @example
 * const r = await verifyStore(config.audit, config.data_dir, [publicKey]);
 */
export async function verifyStore(
  audit: AuditConfig,
  dataDir: string,
  keys: readonly KeyObject[],
  options: VerifyStoreOptions = {},
): Promise<VerifyResult> {
  const reader = await openReader(audit, dataDir);
  try {
    const info = await reader.info();
    if (info === null)
      return { ok: false, seq: 0, problem: 'malformed', reason: 'no ledger found' };
    const latest = readLatestCheckpoint(latestCheckpointPath(signingKeyFile(audit, dataDir)));
    const context = { origin: info.origin, keys, pruned: info.pruned, latest };
    if (reader instanceof SqliteStoreReader && options.parallel !== false) {
      const parallel = {
        ...context,
        path: join(dataDir, LEDGER_FILE_NAME),
        // Read after the checkpoint file: every checkpoint it can name is already in the log.
        lastSeq: await reader.lastSeq(),
        rowsFrom: (seq: number) => reader.rows(seq),
      };
      return await verifyLedgerParallel(parallel, options.parallel);
    }
    const first = (info.pruned?.throughSeq ?? 0) + 1;
    return await verifyLedger({ ...context, rows: reader.rows(first) });
  } finally {
    await reader.close();
  }
}
