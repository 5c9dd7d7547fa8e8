/**
 * A real OpenID Provider for tests: panva's oidc-provider (the certified implementation) on a
 * loopback port, with its development login and consent pages, in-memory accounts and clients, and
 * helpers to get real ID tokens or to sign crafted ones with the provider's own keys.
 *
 * The "browser" here is a scripted fetch client with a cookie jar that follows redirects by hand
 * and submits the devInteractions forms, so no real browser is needed.
 *
 * @example
 * const idp = await startTestIdp();
 * const token = await idp.idToken('alice'); // aud 'airlock-cli', email alice@example.com
 * await idp.close();
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from 'jose';
import Provider from 'oidc-provider';

export interface TestAccount {
  readonly email: string;
  readonly groups: readonly string[];
}

export interface TestClient {
  readonly client_id: string;
  readonly client_secret?: string;
  readonly redirect_uris?: readonly string[];
  /** `web` for a browser-facing client such as the console (default `native`). */
  readonly application_type?: 'web' | 'native';
}

export interface TestIdpOptions {
  readonly port?: number;
  /** Private JWKs (with kid and alg); the first one signs ID tokens. Default: one RS256 key. */
  readonly keys?: readonly JWK[];
  readonly accounts?: Readonly<Record<string, TestAccount>>;
  readonly clients?: readonly TestClient[];
  readonly idTokenTtlSeconds?: number;
}

export interface SignOptions {
  /** Header `kid` (default: the signing key's). */
  readonly kid?: string;
  /** Header `alg` (default: the signing key's). */
  readonly alg?: string;
  /** Extra header members; `undefined` removes one. */
  readonly header?: Record<string, unknown>;
  /** Private JWK to sign with (default: the provider's first key). */
  readonly key?: JWK;
}

export interface TestIdp {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  readonly issuer: string;
  readonly port: number;
  /** The provider's private JWKs. */
  readonly keys: readonly JWK[];
  /** GET /jwks requests served since start (restarts included). */
  jwksRequests(): number;
  /**
   * A JWT signed with a provider key. Defaults `iss` (this issuer), `iat` (now) and `exp` (now +
   * ID token TTL) are merged under `claims`; a claim set to `undefined` is left out.
   */
  sign(claims: Record<string, unknown>, opts?: SignOptions): Promise<string>;
  /** Plays the browser from `authorizeUrl` as `account`, then GETs the redirect; returns its URL. */
  loginAs(authorizeUrl: string, account: string): Promise<string>;
  /** A provider-issued ID token from a full authorization code + PKCE flow. */
  idToken(account: string, clientId?: string): Promise<string>;
  /** Stops, then serves again on the same port with new keys (key rotation); also after close(). */
  restart(keys: readonly JWK[]): Promise<void>;
  close(): Promise<void>;
}

/** Public CLI client: no secret, native, loopback redirect on any port (RFC 8252 §7.3). */
export const CLI_CLIENT_ID = 'airlock-cli';
/** Confidential client (client_secret_basic), also native with a loopback redirect. */
export const CONFIDENTIAL_CLIENT_ID = 'airlock-confidential';
export const CONFIDENTIAL_CLIENT_SECRET = 'airlock-test-secret';
/** The provider also releases the groups under this namespaced claim (as Auth0 does). */
export const NAMESPACED_GROUPS_CLAIM = 'https://airlock.example/groups';
export const LOOPBACK_REDIRECT = 'http://127.0.0.1/callback';

export const DEFAULT_ACCOUNTS: Readonly<Record<string, TestAccount>> = {
  alice: { email: 'alice@example.com', groups: ['engineering', 'oncall'] },
  bob: { email: 'bob@example.com', groups: ['support'] },
  carol: { email: 'carol@example.com', groups: [] },
};

export const DEFAULT_CLIENTS: readonly TestClient[] = [
  { client_id: CLI_CLIENT_ID },
  { client_id: CONFIDENTIAL_CLIENT_ID, client_secret: CONFIDENTIAL_CLIENT_SECRET },
];

/**
 * A private signing JWK with `kid`, `alg` and `use: 'sig'`.
 *
 * @example
 * const key = await generateKey('ES256', 'k2');
 */
export async function generateKey(alg = 'RS256', kid?: string): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: kid ?? randomUUID(), alg, use: 'sig' };
}

/** Starts the provider; close it in `after`. */
export async function startTestIdp(opts: TestIdpOptions = {}): Promise<TestIdp> {
  const idp = new RunningIdp(opts, opts.keys ?? [await generateKey('RS256', 'key-1')]);
  await idp.listen(opts.port ?? 0);
  return idp;
}

class RunningIdp implements TestIdp {
  readonly #opts: TestIdpOptions;
  #keys: readonly JWK[];
  #server: Server | undefined;
  #port = 0;
  #jwksRequests = 0;

  constructor(opts: TestIdpOptions, keys: readonly JWK[]) {
    this.#opts = opts;
    this.#keys = keys;
  }

  get issuer(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  get port(): number {
    return this.#port;
  }

  get keys(): readonly JWK[] {
    return this.#keys;
  }

  jwksRequests(): number {
    return this.#jwksRequests;
  }

  async listen(port: number): Promise<void> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.#port = (server.address() as AddressInfo).port;
    const handler = newProvider(this.issuer, this.#keys, this.#opts).callback();
    server.on('request', (req, res) => {
      if (req.url?.split('?')[0] === '/jwks') this.#jwksRequests += 1;
      // no keep-alive: after restart() a client must not reuse a socket of the old server
      res.shouldKeepAlive = false;
      handler(req, res);
    });
    this.#server = server;
  }

  async restart(keys: readonly JWK[]): Promise<void> {
    await this.close();
    this.#keys = keys;
    await this.listen(this.#port);
  }

  async close(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  async sign(claims: Record<string, unknown>, opts: SignOptions = {}): Promise<string> {
    const key = opts.key ?? this.#keys[0];
    if (!key?.alg) throw new Error('no signing key with an alg');
    const now = Math.floor(Date.now() / 1000);
    const ttl = this.#opts.idTokenTtlSeconds ?? 600;
    const payload = withoutUndefined({ iss: this.issuer, iat: now, exp: now + ttl, ...claims });
    const alg = opts.alg ?? key.alg;
    const header = withoutUndefined({ alg, typ: 'JWT', kid: opts.kid ?? key.kid, ...opts.header });
    const privateKey = await importJWK(key, key.alg);
    return new SignJWT(payload).setProtectedHeader(header as { alg: string }).sign(privateKey);
  }

  async loginAs(authorizeUrl: string, account: string): Promise<string> {
    const redirect = await browse(this.issuer, authorizeUrl, account);
    const res = await fetch(redirect, { redirect: 'manual' });
    await res.arrayBuffer();
    return redirect;
  }

  async idToken(account: string, clientId = CLI_CLIENT_ID): Promise<string> {
    const client = (this.#opts.clients ?? DEFAULT_CLIENTS).find((c) => c.client_id === clientId);
    if (!client) throw new Error(`no test client ${clientId}`);
    const redirectUri = client.redirect_uris?.[0] ?? LOOPBACK_REDIRECT;
    const verifier = randomBytes(32).toString('base64url');
    const url = new URL(`${this.issuer}/auth`);
    const query = {
      response_type: 'code',
      client_id: clientId,
      redirect_uri: redirectUri,
      scope: 'openid email profile groups',
      state: randomBytes(8).toString('hex'),
      nonce: randomBytes(8).toString('hex'),
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    };
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    // the redirect is never followed: the code is read from its URL
    const code = new URL(await browse(this.issuer, url.href, account)).searchParams.get('code');
    if (!code) throw new Error(`no code for ${account}`);
    const form = { grant_type: 'authorization_code', code, redirect_uri: redirectUri };
    return exchange(this.issuer, client, { ...form, code_verifier: verifier });
  }
}

function newProvider(issuer: string, keys: readonly JWK[], opts: TestIdpOptions): Provider {
  const accounts = opts.accounts ?? DEFAULT_ACCOUNTS;
  const idTokenAlg = keys[0]?.alg ?? 'RS256';
  const provider = quietly(
    () =>
      new Provider(issuer, {
        clients: (opts.clients ?? DEFAULT_CLIENTS).map((c) => clientMetadata(c, idTokenAlg)),
        jwks: { keys },
        findAccount: (_ctx: unknown, id: string) => findAccount(accounts, id),
        claims: {
          openid: ['sub'],
          email: ['email', 'email_verified'],
          profile: ['name', 'groups', NAMESPACED_GROUPS_CLAIM],
          groups: ['groups', NAMESPACED_GROUPS_CLAIM],
        },
        // release the scope's claims (email, groups) in the ID token, not only at userinfo
        conformIdTokenClaims: false,
        features: { devInteractions: { enabled: true } },
        enabledJWA: { idTokenSigningAlgValues: [...new Set([idTokenAlg, 'RS256', 'ES256'])] },
        pkce: { required: () => true },
        cookies: { keys: ['airlock-test-cookie-key'] },
        ttl: {
          IdToken: opts.idTokenTtlSeconds ?? 600,
          AccessToken: 600,
          AuthorizationCode: 60,
          Interaction: 600,
          Session: 3600,
          Grant: 3600,
          RefreshToken: 3600,
        },
      }),
  );
  provider.on('server_error', (_ctx, err) => {
    process.stderr.write(`test IdP server_error: ${(err as Error)?.stack ?? String(err)}\n`);
  });
  return provider;
}

/** Drops the warnings oidc-provider prints on every start about its dev-only adapter and forms. */
function quietly<T>(construct: () => T): T {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (!String(args[0]).includes('quick start development-only')) warn(...args);
  };
  try {
    return construct();
  } finally {
    console.warn = warn;
  }
}

function clientMetadata(c: TestClient, idTokenAlg: string): Record<string, unknown> {
  return {
    client_id: c.client_id,
    ...(c.client_secret
      ? { client_secret: c.client_secret, token_endpoint_auth_method: 'client_secret_basic' }
      : { token_endpoint_auth_method: 'none' }),
    application_type: c.application_type ?? 'native',
    redirect_uris: c.redirect_uris ?? [LOOPBACK_REDIRECT],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    id_token_signed_response_alg: idTokenAlg,
  };
}

function findAccount(accounts: Readonly<Record<string, TestAccount>>, id: string) {
  const account = accounts[id];
  if (!account) return undefined;
  return {
    accountId: id,
    claims: () => ({
      sub: id,
      name: id,
      email: account.email,
      email_verified: true,
      groups: [...account.groups],
      [NAMESPACED_GROUPS_CLAIM]: [...account.groups],
    }),
  };
}

/**
 * The scripted browser: follows the IdP's redirects with a cookie jar, fills in the dev login form
 * (`login=<account>`, any password) and the consent form, and stops at the first URL outside the
 * IdP (the client's redirect_uri), which it returns without fetching.
 */
async function browse(issuer: string, authorizeUrl: string, account: string): Promise<string> {
  const jar = new CookieJar();
  const idpOrigin = new URL(issuer).origin;
  let url = authorizeUrl;
  for (let hop = 0; hop < 20; hop++) {
    if (new URL(url).origin !== idpOrigin) return url;
    let res = await jar.fetch(url);
    if (res.status === 200) res = await submitForm(jar, url, await res.text(), account);
    const location = res.headers.get('location');
    if (res.status < 300 || res.status > 399 || !location) {
      const body = (await res.text()).replace(/\s+/g, ' ').slice(0, 600);
      throw new Error(`test IdP answered ${res.status} at ${url}: ${body}`);
    }
    await res.arrayBuffer().catch(() => {});
    url = new URL(location, url).href;
  }
  throw new Error('test IdP: too many redirects');
}

/** Posts the devInteractions form on the page: `prompt=login` or `prompt=consent`. */
async function submitForm(jar: CookieJar, url: string, html: string, account: string) {
  const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
  const prompt = /name="prompt" value="(login|consent)"/.exec(html)?.[1];
  if (!action || !prompt) {
    throw new Error(`test IdP page without a form at ${url}: ${html.slice(0, 300)}`);
  }
  const fields: Record<string, string> =
    prompt === 'login' ? { prompt, login: account, password: 'x' } : { prompt };
  return jar.fetch(new URL(action.replaceAll('&amp;', '&'), url).href, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
}

async function exchange(
  issuer: string,
  client: TestClient,
  form: Record<string, string>,
): Promise<string> {
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
  };
  const body = new URLSearchParams(form);
  if (client.client_secret) {
    const basic = Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64');
    headers.authorization = `Basic ${basic}`;
  } else {
    body.set('client_id', client.client_id);
  }
  const res = await fetch(`${issuer}/token`, { method: 'POST', headers, body: body.toString() });
  const json = (await res.json()) as { id_token?: string; error?: string };
  if (!json.id_token) throw new Error(`test IdP token endpoint: ${res.status} ${json.error}`);
  return json.id_token;
}

/** Just enough of RFC 6265 for one origin: name, value, path, and deletion by expiry. */
class CookieJar {
  readonly #cookies = new Map<string, { value: string; path: string }>();

  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const path = new URL(url).pathname;
    const cookie = [...this.#cookies]
      .filter(
        ([, c]) => path === c.path || path.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`),
      )
      .map(([name, c]) => `${name}=${c.value}`)
      .join('; ');
    const headers = new Headers(init.headers);
    if (cookie) headers.set('cookie', cookie);
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) this.#store(line);
    return res;
  }

  #store(line: string): void {
    const [pair = '', ...attrs] = line.split(';').map((s) => s.trim());
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq);
    const attr = (key: string) =>
      attrs.find((a) => a.toLowerCase().startsWith(`${key}=`))?.slice(key.length + 1);
    const expires = attr('expires');
    if (expires !== undefined && Date.parse(expires) <= Date.now()) {
      this.#cookies.delete(name);
      return;
    }
    this.#cookies.set(name, { value: pair.slice(eq + 1), path: attr('path') ?? '/' });
  }
}

function withoutUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
