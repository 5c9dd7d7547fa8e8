/**
 * HTTPS proxy mode: a client that only knows `HTTPS_PROXY` (here the OpenAI SDK on Node's own
 * proxy support) opens a CONNECT tunnel through Airlock with its Airlock token as the proxy
 * password; Airlock answers TLS with a certificate from its proxy CA and routes the requests
 * inside by host, with the brokered key. Unknown hosts and missing credentials are refused.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { startLlmStack, UPSTREAM_KEY } from '../helpers/llm-stack.ts';
import { run } from '../helpers/stack.ts';

const CLIENT = `
import OpenAI from 'openai';
const client = new OpenAI({ baseURL: 'https://api.openai.test/v1', apiKey: 'sk-dummy', maxRetries: 0 });
const stream = await client.chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'via proxy' }] });
let text = '';
for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
process.stdout.write(text);
`;

function rawConnect(port: number, target: string, auth?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => {
      s.write(
        `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${auth ? `Proxy-Authorization: ${auth}\r\n` : ''}\r\n`,
      );
    });
    let text = '';
    s.on('data', (d) => {
      text += d;
      if (text.includes('\r\n\r\n')) {
        s.destroy();
        resolve(text.split('\r\n')[0] ?? '');
      }
    });
    s.on('error', reject);
  });
}

describe('HTTPS proxy mode (CONNECT)', () => {
  it('tunnels an SDK call to a configured host, with the token as proxy password', async () => {
    await using s = await startLlmStack({
      connections: (url) =>
        `  - { name: openai-proxied, type: llm, url: '${url}/v1', hosts: [api.openai.test], api_key: '\${env:UPSTREAM_KEY}' }\n`,
    });
    s.upstream.reply = { chunks: ['through ', 'the tunnel'] };
    const port = s.gw.addresses.http?.port as number;
    const r = await run(process.execPath, ['--input-type=module', '-e', CLIENT], {
      env: {
        HTTPS_PROXY: `http://agent:${s.token}@127.0.0.1:${port}`,
        NODE_USE_ENV_PROXY: '1',
        NODE_EXTRA_CA_CERTS: s.gw.proxyCaFile,
        NO_PROXY: '',
      },
      timeoutMs: 30_000,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'through the tunnel');
    const seen = s.upstream.received.at(-1);
    assert.equal(seen?.headers.authorization, `Bearer ${UPSTREAM_KEY}`);
    const [req] = await s.gw.ledger.query({
      types: ['llm.requested'],
      connection: 'openai-proxied',
    });
    assert.equal(req?.actor?.identity, 'ci-agent');

    const basic = `Basic ${Buffer.from(`agent:${s.token}`).toString('base64')}`;
    assert.equal(await rawConnect(port, 'evil.example.com:443', basic), 'HTTP/1.1 403 Forbidden');
    assert.equal(
      await rawConnect(port, 'api.openai.test:443'),
      'HTTP/1.1 407 Proxy Authentication Required',
    );
    const bad = `Basic ${Buffer.from('agent:alk_nope').toString('base64')}`;
    assert.equal(
      await rawConnect(port, 'api.openai.test:443', bad),
      'HTTP/1.1 407 Proxy Authentication Required',
    );
  });
});
