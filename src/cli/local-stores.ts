/**
 * For commands run on the gateway host against its data folder: the token store and the ledger,
 * opened together and always closed, and the actor that names the operator at the keyboard.
 */
import { userInfo } from 'node:os';
import { openLedger } from '../audit/open.ts';
import type { Actor, AuditEventInput } from '../audit/types.ts';
import type { AirlockConfig } from '../config/schema.ts';
import { TokenStore } from '../identity/token-store.ts';

export interface LocalLedger {
  append(event: AuditEventInput): Promise<unknown>;
}

/**
 * @example
 * await withLocalStores(cfg, async (tokens, ledger) => { ... });
 */
export async function withLocalStores<T>(
  cfg: AirlockConfig,
  fn: (tokens: TokenStore, ledger: LocalLedger) => Promise<T>,
): Promise<T> {
  const tokens = new TokenStore({ dataDir: cfg.data_dir });
  try {
    const ledger = await openLedger({
      audit: cfg.audit,
      dataDir: cfg.data_dir,
      checkpointIntervalMs: 0,
    });
    try {
      return await fn(tokens, ledger);
    } finally {
      await ledger.close();
    }
  } finally {
    tokens.close();
  }
}

/** The operator at the keyboard, as the ledger names them. */
export const cliActor = (): Actor => ({ kind: 'cli', identity: userInfo().username });
