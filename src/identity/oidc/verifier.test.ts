/**
 * OidcVerifier against a hand-built issuer (discovery + JWKS on a loopback port) whose answers
 * each test can change: key selection, JWKS cache behaviour, discovery failures, claim checks.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { type OidcIssuerInput, parseIssuerConfig } from './config.ts';
import { looksLikeJwt, OidcVerifier, type OidcVerifyResult } from './verifier.ts';

interface FakeIssuer {
  readonly issuer: string;
  /** What the issuer serves; tests change it. */
  state: {
    discoveryIssuer?: string;
    omitJwksUri?: boolean;
    jwks: unknown;
    jwksStatus: number;
    jwksRaw?: string;
    jwksDelayMs: number;
  };
  jwksRequests: number;
  close(): Promise<void>;
}

async function startFakeIssuer(path = ''): Promise<FakeIssuer> {
  let origin = '';
  const fake: FakeIssuer = {
    issuer: '',
    state: { jwks: { keys: [] }, jwksStatus: 200, jwksDelayMs: 0 },
    jwksRequests: 0,
    close: () => close(server),
  };
  const server: Server = createServer((req, res) => {
    const { state } = fake;
    if (req.url === `${path}/.well-known/openid-configuration`) {
      const doc = {
        issuer: state.discoveryIssuer ?? fake.issuer,
        ...(!state.omitJwksUri && { jwks_uri: `${origin}/keys` }),
      };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
      return;
    }
    if (req.url === '/keys') {
      fake.jwksRequests += 1;
      const body = state.jwksRaw ?? JSON.stringify(state.jwks);
      setTimeout(() => res.writeHead(state.jwksStatus).end(body), state.jwksDelayMs);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  (fake as { issuer: string }).issuer = `${origin}${path}`;
  return fake;
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

async function newKey(alg: string, kid: string, extra: Partial<JWK> = {}) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const pub: JWK = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig', ...extra };
  return { privateKey, pub, kid, alg };
}
type Key = Awaited<ReturnType<typeof newKey>>;

function withoutAlg(jwk: JWK): JWK {
  const { alg: _, ...rest } = jwk;
  return rest;
}

const nowS = () => Math.floor(Date.now() / 1000);

async function sign(
  key: Key,
  issuer: string,
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
): Promise<string> {
  const payload = Object.fromEntries(
    Object.entries({
      iss: issuer,
      aud: 'airlock',
      sub: 'u-1',
      email: 'alice@example.com',
      iat: nowS(),
      exp: nowS() + 300,
      ...claims,
    }).filter(([, v]) => v !== undefined),
  );
  const hdr = Object.fromEntries(
    Object.entries({ alg: key.alg, kid: key.kid, ...header }).filter(([, v]) => v !== undefined),
  );
  return new SignJWT(payload).setProtectedHeader(hdr as { alg: string }).sign(key.privateKey);
}

function verifier(issuer: string, extra: Partial<OidcIssuerInput> = {}, clock?: () => number) {
  const cfg = parseIssuerConfig({ issuer, audience: 'airlock', ...extra });
  return new OidcVerifier([cfg], { timeoutMs: 500, ...(clock && { clock }) });
}

function reason(r: OidcVerifyResult): string {
  return r.ok ? 'ok' : r.reason;
}

let fake: FakeIssuer;
let rsa: Key;
let rsa2: Key;
let ec: Key;
let ed: Key;

before(async () => {
  fake = await startFakeIssuer();
  [rsa, rsa2, ec, ed] = await Promise.all([
    newKey('RS256', 'rsa-1'),
    newKey('RS256', 'rsa-2'),
    newKey('ES256', 'ec-1'),
    newKey('EdDSA', 'ed-1'),
  ]);
});
after(() => fake.close());

function serve(...keys: JWK[]): void {
  fake.state = { jwks: { keys }, jwksStatus: 200, jwksDelayMs: 0 };
}

describe('looksLikeJwt', () => {
  it('tells JWTs from Airlock tokens without decoding', () => {
    assert.equal(looksLikeJwt('eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln'), true);
    assert.equal(looksLikeJwt('eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.'), true);
    assert.equal(looksLikeJwt(`alk_abcdefghijkl_${'A'.repeat(43)}`), false);
    assert.equal(looksLikeJwt('a.b'), false);
    assert.equal(looksLikeJwt('eyJ.a.b.c'), false);
    assert.equal(looksLikeJwt('eyJ a.b.c'), false);
  });
});

describe('key selection', () => {
  it('accepts RS256, ES256 and EdDSA tokens by kid', async () => {
    serve(rsa.pub, ec.pub, ed.pub);
    const v = verifier(fake.issuer);
    for (const key of [rsa, ec, ed]) {
      const r = await v.verify(await sign(key, fake.issuer));
      assert.equal(reason(r), 'ok', key.alg);
    }
  });

  it('without a kid uses the only key that fits the alg, else refuses', async () => {
    serve(rsa.pub, ec.pub);
    const r1 = await verifier(fake.issuer).verify(
      await sign(rsa, fake.issuer, {}, { kid: undefined }),
    );
    assert.equal(reason(r1), 'ok');
    serve(rsa.pub, rsa2.pub);
    const r2 = await verifier(fake.issuer).verify(
      await sign(rsa, fake.issuer, {}, { kid: undefined }),
    );
    assert.equal(reason(r2), 'unknown key');
  });

  it('refuses a key whose alg, use, kty or curve does not fit the header', async () => {
    const cases: Array<[JWK, string]> = [
      [{ ...rsa.pub, alg: 'PS256' }, 'alg'],
      [{ ...rsa.pub, use: 'enc' }, 'use'],
      [{ ...rsa.pub, key_ops: ['encrypt'] }, 'key_ops'],
      [{ ...withoutAlg(ec.pub), kid: 'rsa-1' }, 'kty'],
    ];
    const token = await sign(rsa, fake.issuer);
    for (const [jwk, what] of cases) {
      serve(jwk);
      assert.equal(reason(await verifier(fake.issuer).verify(token)), 'key mismatch', what);
    }
    const p384 = await newKey('ES384', 'ec-1');
    serve(withoutAlg(p384.pub));
    const r = await verifier(fake.issuer).verify(await sign(ec, fake.issuer));
    assert.equal(reason(r), 'key mismatch', 'crv');
  });

  it('imports only the public members of a JWK that carries private ones', async () => {
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const priv = { ...(await exportJWK(privateKey)), kid: 'leaky', alg: 'RS256' };
    serve(priv);
    const key: Key = { privateKey, pub: priv, kid: 'leaky', alg: 'RS256' };
    assert.equal(reason(await verifier(fake.issuer).verify(await sign(key, fake.issuer))), 'ok');
  });

  it('a signature by another key with the same kid is a bad signature', async () => {
    serve(rsa.pub);
    const impostor = { ...rsa2, kid: 'rsa-1' };
    assert.equal(
      reason(await verifier(fake.issuer).verify(await sign(impostor, fake.issuer))),
      'bad signature',
    );
  });
});

describe('JWKS cache', () => {
  it('fetches once, then refreshes on an unknown kid at most once per jwks_min_refresh_seconds', async () => {
    serve(rsa.pub);
    let t = Date.now();
    const v = verifier(fake.issuer, { jwks_min_refresh_seconds: 10 }, () => t);
    assert.equal(reason(await v.verify(await sign(rsa, fake.issuer))), 'ok');
    assert.equal(reason(await v.verify(await sign(rsa, fake.issuer))), 'ok');
    assert.equal(v.jwksFetches(fake.issuer), 1);
    serve(rsa.pub, rsa2.pub);
    assert.equal(reason(await v.verify(await sign(rsa2, fake.issuer))), 'unknown key');
    assert.equal(v.jwksFetches(fake.issuer), 1, 'no refresh within 10 s of the first fetch');
    t += 10_000;
    assert.equal(reason(await v.verify(await sign(rsa2, fake.issuer))), 'ok');
    assert.equal(v.jwksFetches(fake.issuer), 2);
  });

  it('concurrent verifications with an unknown kid share one fetch', async () => {
    serve(rsa.pub);
    let t = Date.now();
    const v = verifier(fake.issuer, { jwks_min_refresh_seconds: 1 }, () => t);
    await v.verify(await sign(rsa, fake.issuer));
    serve(rsa.pub, rsa2.pub);
    fake.state.jwksDelayMs = 50;
    t += 1000;
    const token = await sign(rsa2, fake.issuer);
    const before = fake.jwksRequests;
    const results = await Promise.all(Array.from({ length: 10 }, () => v.verify(token)));
    assert.deepEqual(results.map(reason), Array(10).fill('ok'));
    assert.equal(fake.jwksRequests - before, 1);
  });

  it('keeps stale keys when a max-age refresh fails, and retries later', async () => {
    serve(rsa.pub);
    let t = Date.now();
    const v = verifier(fake.issuer, { jwks_max_age_seconds: 60 }, () => t);
    const token = await sign(rsa, fake.issuer);
    assert.equal(reason(await v.verify(token)), 'ok');
    fake.state.jwksStatus = 500;
    t += 61_000;
    assert.equal(reason(await v.verify(token)), 'ok');
    assert.equal(v.jwksFetches(fake.issuer), 2);
    assert.equal(reason(await v.verify(token)), 'ok');
    assert.equal(v.jwksFetches(fake.issuer), 2, 'no retry within a second of the failure');
    t += 1000;
    await v.verify(token);
    assert.equal(v.jwksFetches(fake.issuer), 3);
  });

  for (const [what, state] of [
    ['HTTP 500', { jwksStatus: 500 }],
    ['bad JSON', { jwksRaw: '{"keys": [' }],
    ['no keys array', { jwksRaw: '{"keys": {}}' }],
    ['a body over 1 MiB', { jwksRaw: JSON.stringify({ keys: [], pad: 'x'.repeat(1_100_000) }) }],
    ['no answer in time', { jwksDelayMs: 1500 }],
  ] as const) {
    it(`a JWKS with ${what} makes the issuer unavailable`, async () => {
      serve(rsa.pub);
      Object.assign(fake.state, state);
      assert.equal(
        reason(await verifier(fake.issuer).verify(await sign(rsa, fake.issuer))),
        'issuer unavailable',
      );
    });
  }
});

describe('discovery', () => {
  it('finds the metadata of an issuer with a path and a trailing slash (Discovery §4)', async () => {
    const withPath = await startFakeIssuer('/realms/main');
    try {
      const issuer = `${withPath.issuer}/`;
      withPath.state.jwks = { keys: [rsa.pub] };
      withPath.state.discoveryIssuer = issuer;
      const r = await verifier(issuer).verify(await sign(rsa, issuer));
      assert.equal(reason(r), 'ok');
    } finally {
      await withPath.close();
    }
  });

  it('refuses a discovery document that names another issuer or lacks jwks_uri', async () => {
    serve(rsa.pub);
    fake.state.discoveryIssuer = `${fake.issuer}/`;
    const token = await sign(rsa, fake.issuer);
    assert.equal(reason(await verifier(fake.issuer).verify(token)), 'issuer unavailable');
    serve(rsa.pub);
    fake.state.omitJwksUri = true;
    const r = await verifier(fake.issuer).verify(token);
    assert.deepEqual(r, { ok: false, reason: 'issuer unavailable', issuer: fake.issuer });
  });
});

describe('claims', () => {
  const check = async (
    claims: Record<string, unknown>,
    extra: Partial<OidcIssuerInput> = {},
    clock?: () => number,
  ): Promise<OidcVerifyResult> => {
    serve(rsa.pub, ec.pub);
    return verifier(fake.issuer, extra, clock).verify(await sign(rsa, fake.issuer, claims));
  };

  it('returns the verified claims in milliseconds', async () => {
    const iat = nowS();
    const r = await check({
      iat,
      exp: iat + 300,
      jti: 'j-1',
      groups: 'ops',
      aud: ['x', 'airlock'],
    });
    assert.ok(r.ok);
    assert.deepEqual(r.claims, {
      issuer: fake.issuer,
      subject: 'u-1',
      username: 'alice@example.com',
      groups: ['ops'],
      audience: ['x', 'airlock'],
      issuedAt: iat * 1000,
      expiresAt: (iat + 300) * 1000,
      jwtId: 'j-1',
    });
  });

  it('reads groups from a dotted path only when no exact claim has that name', async () => {
    const nested = { realm_access: { roles: ['admin'] } };
    const r1 = await check(nested, { groups_claim: 'realm_access.roles' });
    assert.deepEqual(r1.ok && r1.claims.groups, ['admin']);
    const r2 = await check(
      { ...nested, 'realm_access.roles': ['flat'] },
      {
        groups_claim: 'realm_access.roles',
      },
    );
    assert.deepEqual(r2.ok && r2.claims.groups, ['flat']);
    const r3 = await check({}, { groups_claim: 'https://example.com/groups' });
    assert.deepEqual(r3.ok && r3.claims.groups, []);
  });

  it('refuses bad groups, usernames, subjects and time claims', async () => {
    const now = nowS();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ groups: 42 }, 'bad claim groups'],
      [{ groups: ['ok', 7] }, 'bad claim groups'],
      [{ groups: Array(257).fill('g') }, 'bad claim groups'],
      [{ groups: ['x'.repeat(257)] }, 'bad claim groups'],
      [{ email: undefined }, 'missing claim email'],
      [{ email: ['a'] }, 'bad claim email'],
      [{ sub: '' }, 'bad claim sub'],
      [{ sub: undefined }, 'missing claim sub'],
      [{ exp: String(now + 60) }, 'bad claim exp'],
      [{ iat: undefined }, 'missing claim iat'],
      [{ nbf: 'soon' }, 'bad claim nbf'],
      [{ aud: undefined }, 'missing claim aud'],
      [{ aud: [1] }, 'bad claim aud'],
      [{ aud: ['other'] }, 'wrong audience'],
      [{ exp: now - 61 }, 'expired'],
      [{ nbf: now + 61 }, 'not yet valid'],
      [{ iat: now + 61 }, 'issued in the future'],
    ];
    const clock = () => now * 1000;
    for (const [claims, expected] of cases) {
      const r = await check({ iat: now, ...claims }, {}, clock);
      assert.equal(reason(r), expected, JSON.stringify(claims).slice(0, 80));
    }
    const edge = { exp: now - 59, nbf: now + 59, iat: now + 59 };
    assert.equal(reason(await check(edge, {}, clock)), 'ok');
  });

  it('uses the configured username claim', async () => {
    const r = await check(
      { preferred_username: 'alice' },
      { username_claim: 'preferred_username' },
    );
    assert.equal(r.ok && r.claims.username, 'alice');
  });
});

describe('header checks come before any key is fetched', () => {
  it('refuses alg none, crit, HS256 and an alg outside the issuer list without fetching', async () => {
    serve(rsa.pub);
    const v = verifier(fake.issuer, { algorithms: ['ES256'] });
    const body = Buffer.from(JSON.stringify({ iss: fake.issuer })).toString('base64url');
    const hdr = (h: object) => Buffer.from(JSON.stringify(h)).toString('base64url');
    assert.equal(reason(await v.verify(`${hdr({ alg: 'none' })}.${body}.`)), 'alg none');
    assert.equal(reason(await v.verify(`${hdr({ alg: 'NONE' })}.${body}.`)), 'alg none');
    const crit = `${hdr({ alg: 'ES256', crit: ['urn:x'], 'urn:x': 1 })}.${body}.c2ln`;
    assert.equal(reason(await v.verify(crit)), 'crit unsupported');
    assert.equal(
      reason(await v.verify(`${hdr({ alg: 'HS256' })}.${body}.c2ln`)),
      'alg not allowed',
    );
    assert.equal(reason(await v.verify(await sign(rsa, fake.issuer))), 'alg not allowed');
    const garbage = ['x', 'a.b.c', 'eyJ.eyJ.x', `${hdr({ alg: 'RS256' })}.bm90IGpzb24.x`];
    for (const g of garbage) assert.equal(reason(await v.verify(g)), 'malformed', g);
    assert.equal(
      reason(await v.verify(`${hdr({ alg: 'RS256' })}.${'A'.repeat(9000)}.x`)),
      'too large',
    );
    assert.equal(v.jwksFetches(fake.issuer), 0);
  });

  it('never puts a part of the token in the reason', async () => {
    serve(rsa.pub);
    const v = verifier(fake.issuer);
    const token = await sign(rsa, fake.issuer, { email: 'secret-user' });
    const tampered = `${token.slice(0, -4)}AAAA`;
    for (const t of [token, tampered, `${token}x`, token.replace('.', '..')]) {
      const r = await v.verify(t);
      if (r.ok) continue;
      for (const part of t.split('.').filter((p) => p.length > 4)) {
        assert.ok(!r.reason.includes(part));
      }
      assert.match(r.reason, /^[a-z <>_.:/-]+$/);
    }
  });
});
