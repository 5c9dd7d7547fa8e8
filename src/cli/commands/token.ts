import { tokenCreatedEvent, tokenRevokedEvent } from '../../identity/token-events.ts';
import { TokenStore } from '../../identity/token-store.ts';
import type { TokenRecord } from '../../identity/types.ts';
import { apiCall, apiTarget } from '../api-client.ts';
import {
  config,
  type Flags,
  out,
  parse,
  parseDuration,
  required,
  str,
  UsageError,
} from '../args.ts';
import { cliActor, withLocalStores } from '../local-stores.ts';
import { bearer } from './login.ts';

export const help = `token create --name AGENT --purpose TEXT [--groups a,b] [--ttl 8h] [--api URL]
      (owned by you, proven by your airlock login; groups must be yours)
  token create --owner HUMAN --name AGENT --purpose TEXT ...   (operator on the gateway host)
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
    purpose: { type: 'string' },
    groups: { type: 'string' },
    ttl: { type: 'string' },
    api: { type: 'string' },
    issuer: { type: 'string' },
  });
  const input = {
    name: required(flags, 'name'),
    purpose: required(flags, 'purpose'),
    groups: (str(flags, 'groups') ?? '')
      .split(',')
      .map((g) => g.trim())
      .filter(Boolean),
    ttlMs: parseDuration(str(flags, 'ttl') ?? '8h'),
  };
  const token = str(flags, 'owner')
    ? await createAsOperator(flags, input)
    : await createAsOwner(flags, input);
  out(token);
  return 0;
}

/** The owner proves who they are: the gateway takes the owner from their OIDC token. */
async function createAsOwner(
  flags: Flags,
  input: { name: string; purpose: string; groups: string[]; ttlMs: number },
): Promise<string> {
  const cfg = config(flags);
  const created = await apiCall<TokenRecord & { token: string }>(
    apiTarget(cfg, str(flags, 'api')),
    'POST',
    '/v1/tokens',
    await bearer(cfg, str(flags, 'issuer')),
    {
      name: input.name,
      purpose: input.purpose,
      groups: input.groups,
      ttl_hours: input.ttlMs / 3_600_000,
    },
  );
  process.stderr.write(
    `created ${created.id} for ${created.owner}, expires ${iso(created.expiresAt)}\n`,
  );
  return created.token;
}

/** An operator on the gateway host names the owner; the ledger records that it was typed. */
async function createAsOperator(
  flags: Flags,
  input: { name: string; purpose: string; groups: string[]; ttlMs: number },
): Promise<string> {
  const cfg = config(flags);
  return withLocalStores(cfg, async (tokens, ledger) => {
    const { token, record } = tokens.create({
      ...input,
      owner: required(flags, 'owner'),
      ownerProof: 'operator',
    });
    await ledger.append(tokenCreatedEvent(record, cliActor()));
    process.stderr.write(
      `created ${record.id} for ${record.owner} (owner named by the operator, not proven)\n`,
    );
    return token;
  });
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
    const head = ['ID', 'OWNER', 'NAME', 'PURPOSE', 'GROUPS', 'PROOF', 'CREATED', 'LAST USED'];
    out([...head, 'EXPIRES', 'STATUS'].join('\t'));
    const now = Date.now();
    for (const t of rows) out(row(t, now).join('\t'));
    return 0;
  } finally {
    tokens.close();
  }
}

function row(t: TokenRecord, now: number): string[] {
  const status = t.revokedAt ? 'revoked' : t.expiresAt <= now ? 'expired' : 'active';
  return [
    t.id,
    t.owner,
    t.name,
    t.purpose || '-',
    t.groups.join(',') || '-',
    t.ownerProof,
    iso(t.createdAt),
    t.lastUsedAt ? iso(t.lastUsedAt) : '-',
    iso(t.expiresAt),
    status,
  ];
}

async function revoke(argv: string[]): Promise<number> {
  const { flags, positionals } = parse(argv, {});
  const id = positionals[0];
  if (!id) throw new UsageError('token revoke needs a token id');
  return withLocalStores(config(flags), async (tokens, ledger) => {
    if (!tokens.revoke(id)) {
      process.stderr.write(`airlock: no active token with id ${id}\n`);
      return 1;
    }
    await ledger.append(tokenRevokedEvent(id, cliActor()));
    process.stderr.write(`revoked ${id}; live sessions using it end within seconds\n`);
    return 0;
  });
}

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
