import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GatewayError } from '../../errors.ts';
import { credentialOf, upstreamHeaders } from './headers.ts';
import { Router } from './router.ts';

const conns = [
  { type: 'postgres', name: 'clinic' },
  {
    type: 'llm',
    name: 'openai',
    url: 'https://api.openai.com/v1',
    dialect: 'openai',
    default: true,
  },
  {
    type: 'llm',
    name: 'claude',
    url: 'https://api.anthropic.com',
    dialect: 'anthropic',
    default: false,
  },
  { type: 'http', name: 'admin', url: 'https://admin.internal/api', hosts: ['admin.example.com'] },
] as const;

const router = new Router(conns as never, (c) => (c.dialect === 'openai' ? '/v1' : ''));
const route = (url: string, host?: string) => router.route({ url, host });
const target = (url: string, host?: string) => {
  const r = route(url, host);
  return r.kind === 'connection' ? [r.connection.name, r.upstreamPath, r.path, r.proxied] : r.kind;
};
const code = (url: string) => {
  try {
    route(url);
  } catch (err) {
    return (err as GatewayError).code;
  }
  return 'routed';
};

describe('Router', () => {
  it('routes /c/<name>, /v1 to the default, Host and proxy form; leaves the rest free', () => {
    assert.deepEqual(target('/c/openai/chat/completions?x=1'), [
      'openai',
      '/chat/completions?x=1',
      '/chat/completions',
      false,
    ]);
    assert.deepEqual(target('/c/claude/v1/messages'), [
      'claude',
      '/v1/messages',
      '/v1/messages',
      false,
    ]);
    assert.deepEqual(target('/v1/chat/completions'), [
      'openai',
      '/chat/completions',
      '/chat/completions',
      false,
    ]);
    assert.deepEqual(target('/users/7', 'admin.example.com:8080'), [
      'admin',
      '/users/7',
      '/users/7',
      false,
    ]);
    assert.deepEqual(target('http://admin.example.com/users?a=b'), [
      'admin',
      '/users?a=b',
      '/users',
      true,
    ]);
    assert.equal(target('/healthz'), 'health');
    assert.equal(target('/'), 'none');
    assert.equal(target('/api/reviews'), 'none');
    assert.equal(code('/c/clinic/x'), 'GW_CONNECTION_UNKNOWN', 'postgres connections are not HTTP');
  });

  it('refuses paths the upstream could read differently than policy', () => {
    for (const p of [
      '/c/admin/a/../b',
      '/c/admin/%2e%2e/b',
      '/c/admin/a%2Fb',
      '/c/admin/a\\b',
      '/c/admin/%ZZ',
      '/c/admin/./x',
    ]) {
      assert.equal(code(p), 'GW_PROTOCOL_MALFORMED', p);
    }
    assert.deepEqual(target('/c/admin/caf%C3%A9'), ['admin', '/caf%C3%A9', '/café', false]);
    assert.equal(code('http://unknown.example.com/x'), 'GW_CONNECTION_UNKNOWN');
    assert.equal(code('*'), 'GW_PROTOCOL_MALFORMED');
  });
});

describe('headers', () => {
  it('finds the Airlock credential where SDKs and proxies put it', () => {
    assert.equal(credentialOf({ authorization: 'Bearer alk_x' }), 'alk_x');
    assert.equal(credentialOf({ 'x-api-key': 'alk_y' }), 'alk_y');
    const basic = `Basic ${Buffer.from('me:alk_z').toString('base64')}`;
    assert.equal(
      credentialOf({ 'proxy-authorization': basic, authorization: 'Bearer sk-dummy' }),
      'alk_z',
    );
    assert.equal(credentialOf({ authorization: 'Bearer has space' }), undefined);
    assert.equal(credentialOf({}), undefined);
  });

  it('never forwards the client credential, hop-by-hop or Airlock headers', () => {
    const out = upstreamHeaders({
      authorization: 'Bearer alk_x',
      'x-api-key': 'alk_x',
      'proxy-authorization': 'Basic x',
      connection: 'keep-alive, x-secret-hop',
      'x-secret-hop': '1',
      'keep-alive': 'timeout=5',
      'x-airlock-caused-by': 'c_1',
      host: 'gateway',
      accept: 'application/json',
      'anthropic-version': '2023-06-01',
    });
    assert.deepEqual(out, { accept: 'application/json', 'anthropic-version': '2023-06-01' });
  });
});
