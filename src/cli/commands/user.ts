import { disableUser, enableUser } from '../../identity/offboarding.ts';
import { TokenStore } from '../../identity/token-store.ts';
import { config, out, parse, str, UsageError } from '../args.ts';
import { cliActor, withLocalStores } from '../local-stores.ts';

export const help = `user disable HUMAN [--reason TEXT]   offboard: revoke their tokens, end their sessions
  user enable HUMAN
  user list [--json]`;

/**
 * `airlock user disable|enable|list`, run on the gateway host against its data folder. Running
 * gateways notice the change within `identity.recheck_interval_ms` and end the human's sessions
 * (and their agents'). Remote admins use `POST /v1/users/{name}/disable` instead.
 */
export async function run(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === 'disable') return disable(rest);
  if (verb === 'enable') return enable(rest);
  if (verb === 'list') return list(rest);
  throw new UsageError(`unknown user command "${verb ?? ''}"`);
}

async function disable(argv: string[]): Promise<number> {
  const { flags, positionals } = parse(argv, { reason: { type: 'string' } });
  const user = positionals[0];
  if (!user) throw new UsageError('user disable needs the human’s name (as in token owners)');
  const cfg = config(flags);
  const result = await withLocalStores(cfg, (tokens, ledger) =>
    disableUser(tokens, ledger, {
      user,
      by: cliActor(),
      reason: str(flags, 'reason') ?? 'disabled with airlock user disable',
    }),
  );
  const n = result.revokedTokens.length;
  process.stderr.write(
    `${result.alreadyDisabled ? 'already disabled' : 'disabled'} ${user}; revoked ${n} token${n === 1 ? '' : 's'}` +
      `${n ? ` (${result.revokedTokens.join(', ')})` : ''}; live sessions end within ${cfg.identity.recheck_interval_ms} ms\n`,
  );
  return 0;
}

async function enable(argv: string[]): Promise<number> {
  const { flags, positionals } = parse(argv, {});
  const user = positionals[0];
  if (!user) throw new UsageError('user enable needs the human’s name');
  const cfg = config(flags);
  const ok = await withLocalStores(cfg, (tokens, ledger) =>
    enableUser(tokens, ledger, { user, by: cliActor() }),
  );
  process.stderr.write(ok ? `enabled ${user}\n` : `airlock: ${user} is not disabled\n`);
  return ok ? 0 : 1;
}

async function list(argv: string[]): Promise<number> {
  const { flags } = parse(argv, { json: { type: 'boolean' } });
  const cfg = config(flags);
  const tokens = new TokenStore({ dataDir: cfg.data_dir });
  try {
    const users = tokens.users();
    if (flags.json) {
      for (const u of users) out(JSON.stringify(u));
      return 0;
    }
    out(['USER', 'STATUS', 'SINCE', 'BY', 'REASON'].join('\t'));
    for (const u of users) {
      const at = new Date(u.disabledAt ?? u.updatedAt).toISOString();
      const status = u.disabledAt ? 'disabled' : 'enabled';
      out([u.name, status, at, u.disabledBy ?? '-', u.reason ?? '-'].join('\t'));
    }
    return 0;
  } finally {
    tokens.close();
  }
}
