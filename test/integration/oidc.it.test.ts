/**
 * OIDC end to end against a real OpenID Provider (oidc-provider, see test/helpers/oidc-provider.ts):
 * discovery, provider-issued ID tokens, key rotation and the JWKS refresh budget, forged and
 * out-of-date tokens, an IdP that goes away and comes back, and the CLI's PKCE login and refresh.
 */
import assert from 'node:assert/strict';
import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { type OidcIssuerInput, parseIssuerConfig } from '../../src/identity/oidc/config.ts';
import {
  credentialsPath,
  readCredential,
  writeCredential,
} from '../../src/identity/oidc/credentials-file.ts';
import { loginWithPkce, refreshCredential } from '../../src/identity/oidc/login.ts';
import { OidcVerifier, type OidcVerifyResult } from '../../src/identity/oidc/verifier.ts';
import {
  CLI_CLIENT_ID,
  CONFIDENTIAL_CLIENT_ID,
  CONFIDENTIAL_CLIENT_SECRET,
  generateKey,
  NAMESPACED_GROUPS_CLAIM,
  startTestIdp,
  type TestIdp,
} from '../helpers/oidc-provider.ts';

let idp: TestIdp;
let other: TestIdp;
const started: TestIdp[] = [];

async function newIdp(...args: Parameters<typeof startTestIdp>): Promise<TestIdp> {
  const one = await startTestIdp(...args);
  started.push(one);
  return one;
}

before(async () => {
  [idp, other] = await Promise.all([newIdp(), newIdp()]);
});
after(async () => {
  await Promise.all(started.map((i) => i.close()));
});

function config(of: TestIdp | string, extra: Partial<OidcIssuerInput> = {}) {
  const issuer = typeof of === 'string' ? of : of.issuer;
  return parseIssuerConfig({ issuer, audience: CLI_CLIENT_ID, ...extra });
}

function verifierFor(
  of: TestIdp | string,
  extra: Partial<OidcIssuerInput> = {},
  clock?: () => number,
) {
  return new OidcVerifier([config(of, extra)], clock ? { clock } : {});
}

const reason = (r: OidcVerifyResult): string => (r.ok ? 'ok' : r.reason);
const nowS = () => Math.floor(Date.now() / 1000);
const alice = { aud: CLI_CLIENT_ID, sub: 'alice', email: 'alice@example.com', groups: ['eng'] };
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('discovery', () => {
  it('refuses an issuer whose discovery document names another issuer', async () => {
    for (const issuer of [`http://localhost:${idp.port}`, `${idp.issuer}/`]) {
      const token = await idp.sign({ ...alice, iss: issuer });
      const r = await verifierFor(issuer).verify(token);
      assert.deepEqual(r, { ok: false, reason: 'issuer unavailable', issuer });
    }
  });
});

describe('provider-issued ID tokens', () => {
  it('accepts a real ID token with username and groups', async () => {
    const r = await verifierFor(idp).verify(await idp.idToken('alice'));
    assert.ok(r.ok, reason(r));
    assert.equal(r.claims.issuer, idp.issuer);
    assert.equal(r.claims.subject, 'alice');
    assert.equal(r.claims.username, 'alice@example.com');
    assert.deepEqual(r.claims.groups, ['engineering', 'oncall']);
    assert.deepEqual(r.claims.audience, [CLI_CLIENT_ID]);
    assert.ok(r.claims.expiresAt > Date.now());
  });

  it('reads a namespaced groups claim', async () => {
    const v = verifierFor(idp, { groups_claim: NAMESPACED_GROUPS_CLAIM, username_claim: 'sub' });
    const r = await v.verify(await idp.idToken('bob'));
    assert.ok(r.ok, reason(r));
    assert.equal(r.claims.username, 'bob');
    assert.deepEqual(r.claims.groups, ['support']);
  });

  it("refuses another client's token (wrong audience) unless that audience is configured", async () => {
    const token = await idp.idToken('alice', CONFIDENTIAL_CLIENT_ID);
    assert.equal(reason(await verifierFor(idp).verify(token)), 'wrong audience');
    const both = verifierFor(idp, { audience: [CLI_CLIENT_ID, CONFIDENTIAL_CLIENT_ID] });
    assert.equal(reason(await both.verify(token)), 'ok');
  });

  it("refuses a second IdP's token, and its key when it claims our issuer", async () => {
    const v = verifierFor(idp);
    assert.equal(reason(await v.verify(await other.idToken('alice'))), 'unknown issuer');
    // same kid name ('key-1') as ours, different key material
    const forged = await other.sign({ ...alice, iss: idp.issuer });
    assert.equal(reason(await v.verify(forged)), 'bad signature');
  });
});

describe('key rotation', () => {
  it('an unknown kid triggers exactly one JWKS refresh, then none within the budget', async () => {
    const rotating = await newIdp();
    let offset = 0;
    const v = verifierFor(rotating, { jwks_min_refresh_seconds: 30 }, () => Date.now() + offset);
    assert.equal(reason(await v.verify(await rotating.idToken('alice'))), 'ok');
    assert.equal(rotating.jwksRequests(), 1);

    await rotating.restart([await generateKey('RS256', 'key-2')]);
    const rotated = await rotating.idToken('alice');
    offset = 31_000;
    assert.equal(reason(await v.verify(rotated)), 'ok');
    assert.equal(rotating.jwksRequests(), 2);
    assert.equal(v.jwksFetches(rotating.issuer), 2);

    const unknown = await rotating.sign({ ...alice }, { kid: 'key-3' });
    assert.equal(reason(await v.verify(unknown)), 'unknown key');
    assert.equal(reason(await v.verify(await rotating.idToken('bob'))), 'ok');
    assert.equal(rotating.jwksRequests(), 2, 'no refresh within jwks_min_refresh_seconds');
  });

  it('verifies ES256 and EdDSA keys from the provider', async () => {
    for (const alg of ['ES256', 'EdDSA']) {
      const ecIdp = await newIdp({ keys: [await generateKey(alg, `${alg}-1`)] });
      const r = await verifierFor(ecIdp).verify(await ecIdp.idToken('alice'));
      assert.equal(reason(r), 'ok', alg);
    }
  });
});

describe('time claims', () => {
  it('expires at exp plus the clock skew, by the verifier clock', async () => {
    const token = await idp.idToken('alice');
    let offset = 600_000 + 58_000;
    const v = verifierFor(idp, {}, () => Date.now() + offset);
    assert.equal(reason(await v.verify(token)), 'ok');
    offset = 600_000 + 61_000;
    assert.equal(reason(await v.verify(token)), 'expired');
  });

  it('refuses nbf and iat in the future', async () => {
    const v = verifierFor(idp);
    assert.equal(
      reason(await v.verify(await idp.sign({ ...alice, nbf: nowS() + 3600 }))),
      'not yet valid',
    );
    assert.equal(
      reason(await v.verify(await idp.sign({ ...alice, iat: nowS() + 3600 }))),
      'issued in the future',
    );
  });
});

describe('forged and malformed tokens', () => {
  it('refuses a right key with a different iss as unknown issuer', async () => {
    const token = await idp.sign({ ...alice, iss: 'https://evil.example.com' });
    assert.equal(reason(await verifierFor(idp).verify(token)), 'unknown issuer');
  });

  it('refuses a tampered payload', async () => {
    const [h, p, s] = (await idp.idToken('bob')).split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
    const tampered = `${h}.${b64({ ...claims, email: 'alice@example.com' })}.${s}`;
    assert.equal(reason(await verifierFor(idp).verify(tampered)), 'bad signature');
  });

  it('refuses alg none, HS256 keyed with our RSA public key, and unknown algs', async () => {
    const v = verifierFor(idp);
    const [, payload] = (await idp.idToken('alice')).split('.');
    assert.equal(reason(await v.verify(`${b64({ alg: 'none' })}.${payload}.`)), 'alg none');
    const pem = createPublicKey({ key: idp.keys[0] as JsonWebKey, format: 'jwk' }).export({
      type: 'spki',
      format: 'pem',
    });
    const hs = await new SignJWT({ ...alice, iss: idp.issuer, iat: nowS(), exp: nowS() + 60 })
      .setProtectedHeader({ alg: 'HS256', kid: 'key-1' })
      .sign(Buffer.from(pem));
    assert.equal(reason(await v.verify(hs)), 'alg not allowed');
    const rs1 = `${b64({ alg: 'RS1', kid: 'key-1' })}.${payload}.c2ln`;
    assert.equal(reason(await v.verify(rs1)), 'alg not allowed');
    const ps512 = verifierFor(idp, { algorithms: ['PS512'] });
    assert.equal(reason(await ps512.verify(await idp.idToken('alice'))), 'alg not allowed');
  });

  it('refuses an oversized token before decoding it', async () => {
    const big = await idp.sign({ ...alice, pad: 'x'.repeat(9000) });
    assert.equal(reason(await verifierFor(idp).verify(big)), 'too large');
    const v = verifierFor(idp, { max_token_bytes: 16_384 });
    assert.equal(reason(await v.verify(big)), 'ok');
  });

  it('refuses tokens without exp or sub', async () => {
    const v = verifierFor(idp);
    assert.equal(
      reason(await v.verify(await idp.sign({ ...alice, exp: undefined }))),
      'missing claim exp',
    );
    assert.equal(
      reason(await v.verify(await idp.sign({ ...alice, sub: undefined }))),
      'missing claim sub',
    );
  });
});

describe('IdP availability', () => {
  it('reports issuer unavailable while the IdP is down, then recovers', async () => {
    const flaky = await newIdp();
    const token = await flaky.sign({ ...alice });
    await flaky.close();
    let offset = 0;
    const v = verifierFor(flaky, {}, () => Date.now() + offset);
    assert.deepEqual(await v.verify(token), {
      ok: false,
      reason: 'issuer unavailable',
      issuer: flaky.issuer,
    });
    await flaky.restart(flaky.keys);
    assert.equal(
      reason(await v.verify(token)),
      'issuer unavailable',
      'retried at most once a second',
    );
    offset = 1000;
    assert.equal(reason(await v.verify(token)), 'ok');
  });
});

describe('CLI login (authorization code + PKCE, loopback redirect)', () => {
  let home: string;
  const savedHome = process.env.AIRLOCK_HOME;
  before(() => {
    home = mkdtempSync(join(tmpdir(), 'airlock-oidc-'));
    process.env.AIRLOCK_HOME = join(home, 'airlock');
  });
  after(() => {
    if (savedHome === undefined) delete process.env.AIRLOCK_HOME;
    else process.env.AIRLOCK_HOME = savedHome;
    rmSync(home, { recursive: true, force: true });
  });

  it('signs in through the browser, refreshes, and stores the credential 0600', async () => {
    const cfg = config(idp, { client_id: CLI_CLIENT_ID });
    let browser: Promise<string> | undefined;
    const cred = await loginWithPkce(cfg, {
      openUrl: (url) => {
        const params = new URL(url).searchParams;
        assert.equal(params.get('code_challenge_method'), 'S256');
        assert.match(params.get('redirect_uri') ?? '', /^http:\/\/127\.0\.0\.1:\d+\/callback$/);
        browser = idp.loginAs(url, 'alice');
      },
    });
    assert.match((await browser) ?? '', /\/callback\?code=/);
    assert.equal(cred.issuer, idp.issuer);
    assert.equal(cred.username, 'alice@example.com');
    assert.ok(cred.refreshToken && cred.accessToken);
    assert.ok(cred.expiresAt > Date.now());
    assert.equal(reason(await verifierFor(idp).verify(cred.idToken)), 'ok');

    const fresh = await refreshCredential(cfg, cred);
    assert.equal(fresh.username, 'alice@example.com');
    assert.ok(fresh.refreshToken);
    assert.equal(reason(await verifierFor(idp).verify(fresh.idToken)), 'ok');

    writeCredential(fresh);
    assert.equal(statSync(credentialsPath()).mode & 0o777, 0o600);
    assert.equal(statSync(join(home, 'airlock')).mode & 0o777, 0o700);
    assert.deepEqual(readCredential(idp.issuer), fresh);
  });

  it('signs in a confidential client with client_secret_basic', async () => {
    const cfg = config(idp, {
      audience: CONFIDENTIAL_CLIENT_ID,
      client_id: CONFIDENTIAL_CLIENT_ID,
      client_secret: CONFIDENTIAL_CLIENT_SECRET,
    });
    let browser: Promise<string> | undefined;
    const cred = await loginWithPkce(cfg, {
      openUrl: (url) => (browser = idp.loginAs(url, 'bob')),
    });
    await browser;
    assert.equal(cred.username, 'bob@example.com');
  });

  it('refuses a valid ID token that carries another nonce (replayed from another login)', async () => {
    const cfg = config(idp, { client_id: CLI_CLIENT_ID });
    const replayed = await idp.idToken('alice');
    // the token endpoint answers as usual, but with an ID token from another sign-in
    const swapping: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (!String(input).endsWith('/token')) return res;
      const body = { ...((await res.json()) as object), id_token: replayed };
      return Response.json(body, { status: res.status });
    };
    let browser: Promise<string> | undefined;
    const login = loginWithPkce(cfg, {
      openUrl: (url) => (browser = idp.loginAs(url, 'alice')),
      fetch: swapping,
    });
    await assert.rejects(login, /nonce mismatch/);
    await browser;
  });

  it('ignores a callback with the wrong state and fails on an IdP error', async () => {
    const cfg = config(idp, { client_id: CLI_CLIENT_ID });
    let browser: Promise<number[]> | undefined;
    const login = loginWithPkce(cfg, {
      openUrl: (url) => {
        const params = new URL(url).searchParams;
        const callback = params.get('redirect_uri') ?? '';
        const denied = `${callback}?error=access_denied&state=${params.get('state')}`;
        browser = (async () => [
          (await fetch(`${callback}?code=x&state=forged`)).status,
          (await fetch(denied)).status,
        ])();
      },
    });
    await assert.rejects(login, /the IdP refused the sign-in: access_denied/);
    assert.deepEqual(await browser, [400, 400]);
  });

  it('gives up after the timeout and closes the loopback port', async () => {
    let callback = '';
    const login = loginWithPkce(config(idp, { client_id: CLI_CLIENT_ID }), {
      openUrl: (url) => {
        callback = new URL(url).searchParams.get('redirect_uri') ?? '';
      },
      timeoutMs: 200,
    });
    await assert.rejects(login, /sign-in timed out/);
    await assert.rejects(fetch(callback), /fetch failed/);
  });
});
