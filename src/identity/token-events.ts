/**
 * The ledger events for the token lifecycle, built in one place so every path that creates or
 * revokes a token (CLI, demo, later the API) records the same facts and never the secret.
 */
import type { Actor, AuditEventInput } from '../audit/types.ts';
import type { TokenRecord } from './types.ts';

/**
 * @example
 * await ledger.append(tokenCreatedEvent(record, { kind: 'cli', identity: 'ops' }));
 */
export function tokenCreatedEvent(record: TokenRecord, actor: Actor): AuditEventInput {
  return {
    type: 'token.created',
    actor,
    data: {
      tokenId: record.id,
      owner: record.owner,
      name: record.name,
      purpose: record.purpose,
      ownerProof: record.ownerProof,
      groups: record.groups,
      expiresAt: new Date(record.expiresAt).toISOString(),
    },
  };
}

export function tokenRevokedEvent(tokenId: string, actor: Actor): AuditEventInput {
  return { type: 'token.revoked', actor, data: { tokenId } };
}
