import { spawn } from 'node:child_process';
import type { AirlockConfig } from '../../config/schema.ts';
import { type OidcIssuerConfig, toIssuerConfig } from '../../identity/oidc/config.ts';
import {
  readCredential,
  removeCredential,
  writeCredential,
} from '../../identity/oidc/credentials-file.ts';
import {
  loginWithPkce,
  type OidcCredential,
  refreshCredential,
} from '../../identity/oidc/login.ts';
import { config, out, parse, str, UsageError } from '../args.ts';

export const help = `login [--issuer URL] [--browser CMD]   OIDC sign-in (authorization code + PKCE)
  login token [--issuer URL]            print a fresh ID token (e.g. PGPASSWORD=$(airlock login token))
  login status | logout [--issuer URL]`;

/** Refresh this long before expiry, so a printed token is still good when the client uses it. */
const REFRESH_MARGIN_MS = 60_000;

/**
 * `airlock login`: signs the human in with their IdP (RFC 8252 loopback redirect, RFC 7636 PKCE)
 * and keeps the result in `~/.airlock/credentials.json` (0600) for `token create` and friends.
 */
export async function run(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv[0]?.startsWith('-') || argv.length === 0 ? ['', ...argv] : argv;
  if (verb === '') return login(rest);
  if (verb === 'token') return printToken(rest);
  if (verb === 'status') return status(rest);
  if (verb === 'logout') return logout(rest);
  throw new UsageError(`unknown login command "${verb}"`);
}

async function login(argv: string[]): Promise<number> {
  const { flags } = parse(argv, { issuer: { type: 'string' }, browser: { type: 'string' } });
  const issuer = pickIssuer(config(flags), str(flags, 'issuer'));
  if (!issuer.clientId) {
    throw new UsageError(`identity.oidc issuer ${issuer.issuer} has no client_id for login`);
  }
  const browser = str(flags, 'browser') ?? process.env.BROWSER;
  const cred = await loginWithPkce(issuer, {
    openUrl: (url) => {
      process.stderr.write(`Open this address in your browser to sign in:\n\n  ${url}\n\n`);
      if (browser) openBrowser(browser, url);
    },
  });
  writeCredential(cred);
  process.stderr.write(`signed in as ${cred.username} (${cred.issuer})\n`);
  return 0;
}

async function printToken(argv: string[]): Promise<number> {
  const { flags } = parse(argv, { issuer: { type: 'string' } });
  const cred = await currentCredential(config(flags), str(flags, 'issuer'));
  out(cred.idToken);
  return 0;
}

async function status(argv: string[]): Promise<number> {
  const { flags } = parse(argv, { issuer: { type: 'string' } });
  const issuer = pickIssuer(config(flags), str(flags, 'issuer'));
  const cred = readCredential(issuer.issuer);
  if (!cred) {
    out(`not signed in to ${issuer.issuer}`);
    return 1;
  }
  const left = Math.round((cred.expiresAt - Date.now()) / 1000);
  out(
    `signed in to ${cred.issuer} as ${cred.username}; ID token ${left > 0 ? `valid for ${left}s` : 'expired'}` +
      `${cred.refreshToken ? ', refreshable' : ''}`,
  );
  return 0;
}

async function logout(argv: string[]): Promise<number> {
  const { flags } = parse(argv, { issuer: { type: 'string' } });
  const issuer = pickIssuer(config(flags), str(flags, 'issuer'));
  removeCredential(issuer.issuer);
  process.stderr.write(`signed out of ${issuer.issuer}\n`);
  return 0;
}

/**
 * The signed-in human's credential, refreshed when it is about to expire.
 *
 * @example
 * const { idToken } = await currentCredential(cfg);
 */
export async function currentCredential(
  cfg: AirlockConfig,
  issuerUrl?: string,
): Promise<OidcCredential> {
  const issuer = pickIssuer(cfg, issuerUrl);
  const cred = readCredential(issuer.issuer);
  if (!cred) throw new UsageError(`not signed in to ${issuer.issuer}: run airlock login`);
  if (cred.expiresAt - Date.now() > REFRESH_MARGIN_MS) return cred;
  if (!cred.refreshToken) {
    throw new UsageError(`your sign-in to ${issuer.issuer} has expired: run airlock login`);
  }
  const fresh = await refreshCredential(issuer, cred);
  writeCredential(fresh);
  return fresh;
}

/**
 * What the CLI presents to the API: `$AIRLOCK_TOKEN` (an OIDC JWT or agent token, for CI and
 * scripts) when set, else the signed-in human's ID token.
 */
export async function bearer(cfg: AirlockConfig, issuerUrl?: string): Promise<string> {
  const env = process.env.AIRLOCK_TOKEN;
  if (env) return env;
  return (await currentCredential(cfg, issuerUrl)).idToken;
}

function pickIssuer(cfg: AirlockConfig, wanted?: string): OidcIssuerConfig {
  const issuers = cfg.identity.oidc.map(toIssuerConfig);
  if (issuers.length === 0) throw new UsageError('no identity.oidc issuer is configured');
  if (wanted === undefined) {
    if (issuers.length > 1) {
      throw new UsageError(
        `several issuers are configured; pick one with --issuer (${issuers.map((i) => i.issuer).join(', ')})`,
      );
    }
    return issuers[0] as OidcIssuerConfig;
  }
  const found = issuers.find((i) => i.issuer === wanted);
  if (!found) throw new UsageError(`issuer ${wanted} is not configured`);
  return found;
}

function openBrowser(command: string, url: string): void {
  const child = spawn(command, [url], { stdio: 'ignore', detached: true });
  child.on('error', () => process.stderr.write(`airlock: could not start ${command}\n`));
  child.unref();
}
