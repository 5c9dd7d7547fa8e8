import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Secret } from '../../config/secret.ts';
import { oidcIssuerSchema, parseIssuerConfig } from './config.ts';

const issuer = 'https://idp.example.com';

function problems(input: Record<string, unknown>): string {
  const r = oidcIssuerSchema.safeParse({ issuer, audience: 'airlock', ...input });
  assert.equal(r.success, false, JSON.stringify(input));
  return r.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') ?? '';
}

describe('oidcIssuerSchema', () => {
  it('fills the defaults in milliseconds', () => {
    const cfg = parseIssuerConfig({ issuer, audience: 'airlock' });
    assert.deepEqual(cfg, {
      issuer,
      audiences: ['airlock'],
      groupsClaim: 'groups',
      usernameClaim: 'email',
      algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      clockSkewMs: 60_000,
      maxTokenBytes: 8192,
      jwksMinRefreshMs: 30_000,
      jwksMaxAgeMs: 3_600_000,
      scopes: ['openid', 'email', 'profile', 'offline_access'],
      redirectPort: 0,
    });
  });

  it('maps the CLI login keys, keeping the secret wrapped', () => {
    const cfg = parseIssuerConfig({
      issuer: 'http://[::1]:8080',
      audience: ['a', 'b'],
      client_id: 'cli',
      client_secret: 's3cret',
      redirect_port: 8765,
    });
    assert.deepEqual(cfg.audiences, ['a', 'b']);
    assert.equal(cfg.clientId, 'cli');
    assert.ok(cfg.clientSecret instanceof Secret);
    assert.equal(cfg.clientSecret.reveal(), 's3cret');
    assert.equal(JSON.stringify(cfg).includes('s3cret'), false);
  });

  it('accepts plain http only on loopback hosts', () => {
    for (const ok of ['http://127.0.0.1:9000', 'http://localhost/x', 'http://[::1]']) {
      assert.equal(parseIssuerConfig({ issuer: ok, audience: 'a' }).issuer, ok);
    }
    assert.match(problems({ issuer: 'http://idp.example.com' }), /issuer: issuer must use https/);
    assert.match(problems({ issuer: 'idp.example.com' }), /absolute URL/);
    assert.match(problems({ issuer: 'https://idp.example.com/?x=1' }), /query or fragment/);
  });

  it('refuses none, HMAC and unknown algorithms', () => {
    for (const alg of ['none', 'HS256', 'RS1']) {
      assert.match(problems({ algorithms: [alg] }), /algorithms\.0: only asymmetric algorithms/);
    }
    assert.match(problems({ algorithms: [] }), /algorithms/);
  });

  it('bounds the numbers and refuses unknown keys', () => {
    assert.match(problems({ clock_skew_seconds: 301 }), /clock_skew_seconds/);
    assert.match(problems({ max_token_bytes: 1023 }), /max_token_bytes/);
    assert.match(problems({ max_token_bytes: 65_537 }), /max_token_bytes/);
    assert.match(problems({ jwks_min_refresh_seconds: -1 }), /jwks_min_refresh_seconds/);
    assert.match(problems({ redirect_port: 70_000 }), /redirect_port/);
    assert.match(problems({ audience: [] }), /audience/);
    assert.match(problems({ audiences: 'x' }), /audiences/);
  });
});
