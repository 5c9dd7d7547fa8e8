/**
 * Per-session state shared by an engine and the pipeline. Protocol-agnostic.
 */
import { randomFillSync } from 'node:crypto';
import type { Actor } from '../audit/types.ts';
import type { ConnectionConfig } from '../config/schema.ts';
import type { Identity } from '../identity/types.ts';

export type Protocol = 'postgres' | 'http' | 'ssh';

export interface SessionContext {
  readonly id: string;
  readonly protocol: Protocol;
  readonly clientAddr: string;
  readonly startedAt: number;
  identity: Identity | undefined;
  connection: ConnectionConfig | undefined;
  applicationName: string | undefined;
  /**
   * The LLM response this session follows from (`caused-by=<event id>` in the PostgreSQL
   * `application_name`); commands may name their own (a SQL comment, an HTTP header).
   */
  causedBy?: string | undefined;
  readonly stats: { commands: number; denied: number; failed: number };
}

/**
 * @example
 * const ctx = createSessionContext('postgres', '127.0.0.1:50412', Date.now());
 */
export function createSessionContext(
  protocol: Protocol,
  clientAddr: string,
  now: number,
): SessionContext {
  return {
    id: newId('s'),
    protocol,
    clientAddr,
    startedAt: now,
    identity: undefined,
    connection: undefined,
    applicationName: undefined,
    stats: { commands: 0, denied: 0, failed: 0 },
  };
}

/**
 * Random bytes drawn 9 at a time for ids: one system call (and one hex encoding) per 455 ids,
 * not one per id.
 */
const pool = Buffer.alloc(9 * 455);
let poolHex = '';
let poolAt = pool.length;
/** The hex of the last millisecond seen, which consecutive ids share. */
let lastMs = -1;
let lastMsHex = '';

/**
 * Time-ordered random ids: `s_` sessions, `c_` commands. 48 bits of milliseconds then 72 random
 * bits, hex. Time order keeps the ledger's id indexes append-only (one hot B-tree page).
 */
export function newId(prefix: string): string {
  if (poolAt + 9 > pool.length) {
    randomFillSync(pool);
    poolHex = pool.toString('hex');
    poolAt = 0;
  }
  const now = Date.now();
  if (now !== lastMs) {
    if (!Number.isSafeInteger(now) || now < 0 || now >= 2 ** 48) {
      throw new RangeError('newId: the clock is outside 48 bits of milliseconds');
    }
    lastMs = now;
    lastMsHex = now.toString(16).padStart(12, '0');
  }
  const random = poolHex.slice(poolAt * 2, poolAt * 2 + 18);
  poolAt += 9;
  return `${prefix}_${lastMsHex}${random}`;
}

/** The actor chain for audit records: human owner → agent/token. */
export function actorOf(identity: Identity): Actor;
export function actorOf(identity: Identity | undefined): Actor | undefined;
export function actorOf(identity: Identity | undefined): Actor | undefined {
  if (!identity) return undefined;
  return {
    kind: identity.kind,
    identity: identity.name,
    owner: identity.owner,
    groups: identity.groups,
    ...(identity.tokenId ? { tokenId: identity.tokenId } : {}),
  };
}
