/**
 * Offboarding: one function used by the CLI and the API. The store change comes first (cutting
 * access matters more than anything else), then the ledger records who did it, why, and every
 * token it revoked. Running gateways end the human's live sessions on their next re-check.
 */
import type { Actor, AuditEventInput } from '../audit/types.ts';
import type { TokenStore } from './token-store.ts';

export interface LedgerAppender {
  append(event: AuditEventInput): Promise<unknown>;
}

export interface DisableResult {
  readonly user: string;
  readonly revokedTokens: readonly string[];
  readonly alreadyDisabled: boolean;
}

/**
 * @example
 * const r = await disableUser(tokens, ledger, { user: 'eve@example.com', by: actor, reason: 'left' });
 */
export async function disableUser(
  tokens: TokenStore,
  ledger: LedgerAppender,
  input: { readonly user: string; readonly by: Actor; readonly reason: string },
): Promise<DisableResult> {
  const { revoked, alreadyDisabled } = tokens.disableUser(
    input.user,
    describeActor(input.by),
    input.reason,
  );
  await ledger.append({
    type: 'user.disabled',
    actor: input.by,
    data: { user: input.user, reason: input.reason, revokedTokens: revoked, alreadyDisabled },
  });
  for (const tokenId of revoked) {
    await ledger.append({
      type: 'token.revoked',
      actor: input.by,
      data: { tokenId, owner: input.user, reason: 'owner disabled' },
    });
  }
  return { user: input.user, revokedTokens: revoked, alreadyDisabled };
}

/** Lets the human back in; their old tokens stay revoked. False when they were not disabled. */
export async function enableUser(
  tokens: TokenStore,
  ledger: LedgerAppender,
  input: { readonly user: string; readonly by: Actor },
): Promise<boolean> {
  if (!tokens.enableUser(input.user)) return false;
  await ledger.append({ type: 'user.enabled', actor: input.by, data: { user: input.user } });
  return true;
}

function describeActor(a: Actor): string {
  return a.owner && a.owner !== a.identity ? `${a.identity} (owner ${a.owner})` : a.identity;
}
