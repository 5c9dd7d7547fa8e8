import { userInfo } from 'node:os';
import { openLedger } from '../../audit/open.ts';
import type { Actor, AuditEventInput } from '../../audit/types.ts';
import type { AirlockConfig } from '../../config/schema.ts';
import { tokenCreatedEvent, tokenRevokedEvent } from '../../identity/token-events.ts';
import { TokenStore } from '../../identity/token-store.ts';
import { config, out, parse, parseDuration, required, str, UsageError } from '../args.ts';

export const help = `token create --owner HUMAN --name PURPOSE [--groups a,b] [--ttl 8h]
  token list [--json]
  token revoke ID`;

/** `airlock token create|list|revoke`. `create` prints the token and nothing else on stdout. */
export async function run(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === 'create') return create(rest);
  if (verb === 'list') return list(rest);
  if (verb === 'revoke') return revoke(rest);
  throw new UsageError(`unknown token command "${verb ?? ''}"`);
}

async function create(argv: string[]): Promise<number> {
  const { flags } = parse(argv, {
    owner: { type: 'string' },
    name: { type: 'string' },
    groups: { type: 'string' },
    ttl: { type: 'string' },
  });
  const cfg = config(flags);
  const groups = (str(flags, 'groups') ?? '')
    .split(',')
    .map((g) => g.trim())
    .filter(Boolean);
  const ttlMs = parseDuration(str(flags, 'ttl') ?? '8h');
  const tokens = new TokenStore({ dataDir: cfg.data_dir });
  try {
    const { token, record } = tokens.create({
      owner: required(flags, 'owner'),
      name: required(flags, 'name'),
      groups,
      ttlMs,
    });
    await recordEvent(cfg, tokenCreatedEvent(record, cliActor()));
    out(token);
    return 0;
  } finally {
    tokens.close();
  }
}

async function list(argv: string[]): Promise<number> {
  const { flags } = parse(argv, { json: { type: 'boolean' } });
  const cfg = config(flags);
  const tokens = new TokenStore({ dataDir: cfg.data_dir });
  try {
    const rows = tokens.list();
    if (flags.json) {
      for (const t of rows) out(JSON.stringify(t));
      return 0;
    }
    out(['ID', 'OWNER', 'NAME', 'GROUPS', 'CREATED', 'LAST USED', 'EXPIRES', 'STATUS'].join('\t'));
    const now = Date.now();
    for (const t of rows) {
      const status = t.revokedAt ? 'revoked' : t.expiresAt <= now ? 'expired' : 'active';
      out(
        [
          t.id,
          t.owner,
          t.name,
          t.groups.join(',') || '-',
          iso(t.createdAt),
          t.lastUsedAt ? iso(t.lastUsedAt) : '-',
          iso(t.expiresAt),
          status,
        ].join('\t'),
      );
    }
    return 0;
  } finally {
    tokens.close();
  }
}

async function revoke(argv: string[]): Promise<number> {
  const { flags, positionals } = parse(argv, {});
  const id = positionals[0];
  if (!id) throw new UsageError('token revoke needs a token id');
  const cfg = config(flags);
  const tokens = new TokenStore({ dataDir: cfg.data_dir });
  try {
    if (!tokens.revoke(id)) {
      process.stderr.write(`airlock: no active token with id ${id}\n`);
      return 1;
    }
    await recordEvent(cfg, tokenRevokedEvent(id, cliActor()));
    process.stderr.write(`revoked ${id}\n`);
    return 0;
  } finally {
    tokens.close();
  }
}

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

const cliActor = (): Actor => ({ kind: 'cli', identity: userInfo().username });

async function recordEvent(cfg: AirlockConfig, event: AuditEventInput): Promise<void> {
  const ledger = await openLedger({
    audit: cfg.audit,
    dataDir: cfg.data_dir,
    checkpointIntervalMs: 0,
  });
  try {
    await ledger.append(event);
  } finally {
    await ledger.close();
  }
}
