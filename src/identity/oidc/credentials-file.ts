/**
 * `~/.airlock/credentials.json` (or `$AIRLOCK_HOME/credentials.json`): the CLI's OIDC credentials,
 * one per issuer. The folder is created 0700 and the file is replaced atomically with mode 0600.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { isObject } from './fetch-json.ts';
import type { OidcCredential } from './login.ts';

type CredentialMap = Record<string, OidcCredential>;

/**
 * @example
 * credentialsPath(); // '/home/alice/.airlock/credentials.json'
 */
export function credentialsPath(): string {
  const home = process.env.AIRLOCK_HOME;
  return join(home ? home : join(homedir(), '.airlock'), 'credentials.json');
}

/**
 * The stored credential for `issuer`, if any.
 *
 * @example
 * readCredential('https://idp.example.com')?.username;
 */
export function readCredential(issuer: string): OidcCredential | undefined {
  const cred = readAll()[issuer];
  return cred && isCredential(cred) ? cred : undefined;
}

/**
 * Stores `cred` under its issuer, replacing the previous one.
 *
 * @example
 * writeCredential(await loginWithPkce(cfg, { openUrl }));
 */
export function writeCredential(cred: OidcCredential): void {
  writeAll({ ...readAll(), [cred.issuer]: cred });
}

/**
 * Forgets the credential for `issuer`; true when there was one.
 *
 * @example
 * removeCredential('https://idp.example.com');
 */
export function removeCredential(issuer: string): boolean {
  const all = readAll();
  if (!Object.hasOwn(all, issuer)) return false;
  delete all[issuer];
  writeAll(all);
  return true;
}

function readAll(): CredentialMap {
  const path = credentialsPath();
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${path} is not valid JSON; remove it and sign in again`);
  }
  if (!isObject(parsed))
    throw new Error(`${path} is not a JSON object; remove it and sign in again`);
  return parsed as CredentialMap;
}

/** Temp file (0600, exclusive create) + fsync + rename, so a reader never sees half a file. */
function writeAll(all: CredentialMap): void {
  const path = credentialsPath();
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    try {
      writeSync(fd, `${JSON.stringify(all, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

function isCredential(v: unknown): v is OidcCredential {
  return (
    isObject(v) &&
    typeof v.issuer === 'string' &&
    typeof v.idToken === 'string' &&
    typeof v.expiresAt === 'number' &&
    typeof v.username === 'string'
  );
}
