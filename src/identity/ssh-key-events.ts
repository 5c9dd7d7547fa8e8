/**
 * Registering SSH public keys to identities, shared by the CLI (operator on the gateway host)
 * and the API (the owner, proven by their OIDC token), and the ledger events that record it.
 */
import type { Actor, AuditEventInput } from '../audit/types.ts';
import type { SshKeyRecord, SshKeyStore } from './ssh-keys.ts';
import { parsePublicKey } from './ssh-public-key.ts';
import type { TokenStore } from './token-store.ts';
import type { OwnerProof } from './types.ts';

export interface RegisterSshKey {
  /** The `.pub` line. */
  readonly publicKey: string;
  /** Register to this agent token (its owner becomes the key's owner)... */
  readonly tokenId?: string;
  /** ...or to this human, with these groups. */
  readonly owner?: string;
  readonly groups?: readonly string[];
  readonly ownerProof: OwnerProof;
  readonly ttlMs: number;
  /** When set, the token must belong to this human (API callers register keys to their tokens). */
  readonly requireTokenOwner?: string;
}

/** A request that cannot be honoured; the message is safe to show. */
export class SshKeyError extends Error {}

/**
 * @example
 * const rec = registerSshKey(keys, tokens, { publicKey, tokenId: 'abcdefghijkl', ownerProof: 'operator', ttlMs });
 */
export function registerSshKey(
  keys: SshKeyStore,
  tokens: TokenStore,
  r: RegisterSshKey,
): SshKeyRecord {
  let key: ReturnType<typeof parsePublicKey>;
  try {
    key = parsePublicKey(r.publicKey);
  } catch (err) {
    throw new SshKeyError((err as Error).message);
  }
  const base = {
    fingerprint: key.fingerprint,
    type: key.type,
    publicKey: key.line,
    comment: key.comment,
    ownerProof: r.ownerProof,
    ttlMs: r.ttlMs,
  };
  try {
    if (r.tokenId !== undefined) {
      const token = tokens.get(r.tokenId);
      const invalid = token === undefined ? 'unknown' : tokens.invalidity(r.tokenId);
      if (token === undefined || invalid)
        throw new SshKeyError(`token ${r.tokenId} is ${invalid ?? 'unknown'}`);
      const mustOwn = r.requireTokenOwner;
      if (mustOwn !== undefined && token.owner.toLowerCase() !== mustOwn.toLowerCase()) {
        throw new SshKeyError(`token ${r.tokenId} is not yours`);
      }
      return keys.add({ ...base, tokenId: token.id, owner: token.owner, groups: [] });
    }
    if (r.owner === undefined || r.owner.trim() === '')
      throw new SshKeyError('name a token or a user');
    return keys.add({ ...base, owner: r.owner, groups: r.groups ?? [] });
  } catch (err) {
    if (err instanceof SshKeyError) throw err;
    throw new SshKeyError((err as Error).message);
  }
}

/**
 * @example
 * await ledger.append(sshKeyAddedEvent(record, cliActor()));
 */
export function sshKeyAddedEvent(k: SshKeyRecord, actor: Actor): AuditEventInput {
  return {
    type: 'ssh_key.added',
    actor,
    data: {
      fingerprint: k.fingerprint,
      type: k.type,
      owner: k.owner,
      ...(k.tokenId ? { tokenId: k.tokenId } : { groups: k.groups }),
      ownerProof: k.ownerProof,
      expiresAt: new Date(k.expiresAt).toISOString(),
    },
  };
}

export function sshKeyRemovedEvent(k: SshKeyRecord, actor: Actor): AuditEventInput {
  return {
    type: 'ssh_key.removed',
    actor,
    data: {
      fingerprint: k.fingerprint,
      owner: k.owner,
      ...(k.tokenId ? { tokenId: k.tokenId } : {}),
    },
  };
}
