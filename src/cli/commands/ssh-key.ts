import { readFileSync } from 'node:fs';
import {
  registerSshKey,
  SshKeyError,
  sshKeyAddedEvent,
  sshKeyRemovedEvent,
} from '../../identity/ssh-key-events.ts';
import { type SshKeyRecord, SshKeyStore } from '../../identity/ssh-keys.ts';
import { apiCall, apiTarget } from '../api-client.ts';
import { config, type Flags, out, parse, parseDuration, str, UsageError } from '../args.ts';
import { cliActor, withLocalStores } from '../local-stores.ts';
import { bearer } from './login.ts';

export const help = `ssh-key add FILE.pub|- --token ID [--ttl 30d]     (register to an agent token; operator)
  ssh-key add FILE.pub|- --user HUMAN [--groups a,b] [--ttl 30d]   (register to a human; operator)
  ssh-key add FILE.pub|- [--token ID] [--ttl 30d] --api [URL]   (yourself, proven by airlock login)
  ssh-key list [--json]
  ssh-key remove FINGERPRINT`;

/** `airlock ssh-key add|list|remove`: public keys that log in to the SSH listener. */
export async function run(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === 'add') return add(rest);
  if (verb === 'list') return list(rest);
  if (verb === 'remove') return remove(rest);
  throw new UsageError(`unknown ssh-key command "${verb ?? ''}"`);
}

function readKey(file: string | undefined): string {
  if (file === undefined)
    throw new UsageError('ssh-key add needs a public key file (or - for stdin)');
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
}

async function add(argv: string[]): Promise<number> {
  const { flags, positionals } = parse(argv, {
    token: { type: 'string' },
    user: { type: 'string' },
    groups: { type: 'string' },
    ttl: { type: 'string' },
    api: { type: 'string' },
    'via-api': { type: 'boolean' },
    issuer: { type: 'string' },
  });
  const publicKey = readKey(positionals[0]);
  const ttlMs = parseDuration(str(flags, 'ttl') ?? '30d');
  const viaApi = flags['via-api'] === true || str(flags, 'api') !== undefined;
  if (viaApi || (str(flags, 'token') === undefined && str(flags, 'user') === undefined)) {
    return addViaApi(flags, publicKey, ttlMs);
  }
  const cfg = config(flags);
  return withLocalStores(cfg, async (tokens, ledger) => {
    const keys = new SshKeyStore({ dataDir: cfg.data_dir });
    try {
      const token = str(flags, 'token');
      const record = registerSshKey(keys, tokens, {
        publicKey,
        ...(token !== undefined
          ? { tokenId: token }
          : { owner: str(flags, 'user') as string, groups: groupsOf(str(flags, 'groups')) }),
        ownerProof: 'operator',
        ttlMs,
      });
      await ledger.append(sshKeyAddedEvent(record, cliActor()));
      process.stderr.write(
        `registered ${record.fingerprint} for ${who(record)}, expires ${iso(record.expiresAt)}\n`,
      );
      out(record.fingerprint);
      return 0;
    } catch (err) {
      if (err instanceof SshKeyError) throw new UsageError(err.message);
      throw err;
    } finally {
      keys.close();
    }
  });
}

async function addViaApi(flags: Flags, publicKey: string, ttlMs: number): Promise<number> {
  const cfg = config(flags);
  const token = str(flags, 'token');
  const record = await apiCall<SshKeyRecord>(
    apiTarget(cfg, str(flags, 'api')),
    'POST',
    '/v1/ssh-keys',
    await bearer(cfg, str(flags, 'issuer')),
    { public_key: publicKey, ttl_hours: ttlMs / 3_600_000, ...(token ? { token_id: token } : {}) },
  );
  process.stderr.write(
    `registered ${record.fingerprint} for ${who(record)}, expires ${iso(record.expiresAt)}\n`,
  );
  out(record.fingerprint);
  return 0;
}

async function list(argv: string[]): Promise<number> {
  const { flags } = parse(argv, { json: { type: 'boolean' } });
  const keys = new SshKeyStore({ dataDir: config(flags).data_dir });
  try {
    const rows = keys.list();
    if (flags.json) {
      for (const k of rows) out(JSON.stringify(k));
      return 0;
    }
    out(
      [
        'FINGERPRINT',
        'TYPE',
        'IDENTITY',
        'OWNER',
        'GROUPS',
        'PROOF',
        'CREATED',
        'LAST USED',
        'EXPIRES',
        'STATUS',
      ].join('\t'),
    );
    const now = Date.now();
    for (const k of rows) out(row(k, now).join('\t'));
    return 0;
  } finally {
    keys.close();
  }
}

function row(k: SshKeyRecord, now: number): string[] {
  const status = k.removedAt ? 'removed' : k.expiresAt <= now ? 'expired' : 'active';
  return [
    k.fingerprint,
    k.type,
    k.tokenId ? `token ${k.tokenId}` : 'human',
    k.owner,
    k.groups.join(',') || '-',
    k.ownerProof,
    iso(k.createdAt),
    k.lastUsedAt ? iso(k.lastUsedAt) : '-',
    iso(k.expiresAt),
    status,
  ];
}

async function remove(argv: string[]): Promise<number> {
  const { flags, positionals } = parse(argv, {});
  const fp = positionals[0];
  if (!fp) throw new UsageError('ssh-key remove needs a fingerprint (SHA256:...)');
  const cfg = config(flags);
  return withLocalStores(cfg, async (_tokens, ledger) => {
    const keys = new SshKeyStore({ dataDir: cfg.data_dir });
    try {
      const k = keys.get(fp);
      if (k === undefined || !keys.remove(fp)) {
        process.stderr.write(`airlock: no active ssh key ${fp}\n`);
        return 1;
      }
      await ledger.append(sshKeyRemovedEvent(k, cliActor()));
      process.stderr.write(`removed ${fp}; live sessions using it end within seconds\n`);
      return 0;
    } finally {
      keys.close();
    }
  });
}

function groupsOf(list: string | undefined): string[] {
  return (list ?? '')
    .split(',')
    .map((g) => g.trim())
    .filter(Boolean);
}

const who = (k: SshKeyRecord): string =>
  k.tokenId ? `token ${k.tokenId} (owner ${k.owner})` : k.owner;
const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
