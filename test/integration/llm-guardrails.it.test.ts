/**
 * Guardrails on LLM traffic through Airlock with the official SDKs against the local fake
 * upstream: secrets masked in prompts and in streamed responses (split across chunks), prompts
 * refused or held for review by policy, budgets under concurrency, the Anthropic dialect, and a
 * ledger that keeps no secret.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import type { Identity } from '../../src/identity/types.ts';
import { startLlmStack, UPSTREAM_KEY } from '../helpers/llm-stack.ts';

const AWS_KEY = 'AKIA47VZF25VF7HPOEAV';
const EMAIL = 'amelia.watson@example.org';

const MASKING = `
masking:
  rules:
    - { name: secrets, types: [aws_access_key, private_key, generic_secret], style: full }
    - { name: pii, types: [email], style: full }
`;

const approver: Identity = {
  kind: 'oidc',
  name: 'sam.security@example.com',
  owner: 'sam.security@example.com',
  groups: ['security'],
  roles: ['user', 'approver'],
};

/** Every byte the gateway wrote to its data folder (ledger, databases, WAL files). */
function dataFolderText(dir: string): string {
  return readdirSync(dir, { recursive: true })
    .map((f) => join(dir, String(f)))
    .filter((f) => !f.endsWith('.pem') && !f.includes('tls'))
    .map((f) => {
      try {
        return readFileSync(f).toString('latin1');
      } catch {
        return '';
      }
    })
    .join('\n');
}

describe('LLM guardrails', () => {
  it('masks a secret split across streamed chunks, and PII in the prompt before it leaves', async () => {
    await using s = await startLlmStack({ yaml: MASKING });
    s.upstream.reply = {
      chunks: [
        'Your key is AKIA47VZ',
        'F25VF7H',
        'POEAV and the ',
        'rest of ',
        'the answer is long enough to pass the window. '.repeat(4),
      ],
    };
    const client = new OpenAI({ baseURL: `${s.base}/v1`, apiKey: s.token, maxRetries: 0 });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      stream: true,
      messages: [{ role: 'user', content: `my mail is ${EMAIL}, what is the key?` }],
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    assert.ok(!text.includes('AKIA47VZ'), `no part of the key reaches the client: ${text}`);
    assert.ok(!text.includes('POEAV'));
    assert.match(text, /^Your key is \*\*\*\* and the rest of the answer/);
    assert.ok(text.endsWith('window. '), 'the held-back tail is flushed at the end');
    const sent = s.upstream.received.at(-1)?.body ?? '';
    assert.ok(!sent.includes(EMAIL), 'the prompt was masked before it left');
    assert.match(sent, /my mail is \*\*\*\*/);
    await new Promise((r) => setTimeout(r, 100));
    const masked = await s.gw.ledger.query({ types: ['data.masked'] });
    assert.equal(masked.length, 1);
    assert.equal(masked[0]?.data.values, 2);
    await s.gw.close();
    const stored = dataFolderText(s.dataDir);
    for (const secret of [AWS_KEY, EMAIL, s.token, UPSTREAM_KEY]) {
      assert.ok(!stored.includes(secret), `the data folder keeps no ${secret.slice(0, 6)}…`);
    }
  });

  it('masks non-streamed responses and tool-call arguments', async () => {
    await using s = await startLlmStack({ yaml: MASKING });
    s.upstream.reply = {
      toolCalls: [{ name: 'notify', arguments: JSON.stringify({ to: EMAIL, key: AWS_KEY }) }],
    };
    const client = new OpenAI({ baseURL: `${s.base}/v1`, apiKey: s.token, maxRetries: 0 });
    const messages = [{ role: 'user' as const, content: 'notify' }];
    const r = await client.chat.completions.create({ model: 'gpt-4o', messages });
    const call = r.choices[0]?.message.tool_calls?.[0];
    const args = call?.type === 'function' ? JSON.parse(call.function.arguments) : {};
    assert.deepEqual(args, { to: '****', key: '****' });
    const stream = client.chat.completions.stream({ model: 'gpt-4o', messages });
    const final = await stream.finalChatCompletion();
    const streamed = final.choices[0]?.message.tool_calls?.[0];
    assert.ok(streamed?.type === 'function');
    assert.deepEqual(JSON.parse(streamed.function.arguments), { to: '****', key: '****' });
  });

  it('refuses a prompt that carries a secret, in the SDK’s error shape', async () => {
    const policy = `version: 1
rules:
  - name: no-secrets-in-prompts
    match: { prompt: { contains: [aws_access_key, private_key] } }
    action: deny
    message: the prompt carries a secret; remove it
`;
    await using s = await startLlmStack({ policy });
    const client = new OpenAI({ baseURL: `${s.base}/v1`, apiKey: s.token, maxRetries: 0 });
    await assert.rejects(
      client.chat.completions.create({
        model: 'gpt-4o',
        messages: [{ role: 'user', content: `deploy with ${AWS_KEY}` }],
      }),
      (err: unknown) => {
        assert.ok(err instanceof OpenAI.PermissionDeniedError);
        assert.match(err.message, /the prompt carries a secret/);
        assert.equal((err.error as { code?: string }).code, 'GW_POLICY_DENIED');
        return true;
      },
    );
    // A mislabelled body is still read as the LLM request it is; a body that is not JSON is refused.
    const raw = (body: string) =>
      fetch(`${s.base}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${s.token}`, 'content-type': 'text/plain' },
        body,
      });
    const mislabelled = await raw(
      JSON.stringify({ model: 'm', messages: [{ role: 'user', content: AWS_KEY }] }),
    );
    assert.equal(mislabelled.status, 403);
    assert.equal((await raw('model=m&prompt=hi')).status, 400);
    assert.equal(s.upstream.received.length, 0, 'nothing left the gateway');
    const [req] = await s.gw.ledger.query({ types: ['llm.requested'] });
    assert.equal(req?.data.decision, 'deny');
    assert.ok(
      !JSON.stringify(req).includes(AWS_KEY),
      'the ledger keeps the prompt without the key',
    );
    assert.match(JSON.stringify(req), /\[masked:aws_access_key\]/);
  });

  it('holds a prompt for review; once approved it completes', async () => {
    const policy = `version: 1
defaults: { approvers: [{ groups: [security] }] }
rules:
  - name: credential-generation
    match: { prompt: { patterns: ['generate.{0,40}(password|credential|api key)'] } }
    action: review
    message: prompts that ask for credentials need a security review
`;
    await using s = await startLlmStack({ policy });
    s.upstream.reply = { chunks: ['here you go'] };
    const client = new OpenAI({ baseURL: `${s.base}/v1`, apiKey: s.token, maxRetries: 0 });
    const pending = client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Generate a database password for prod' }],
    });
    let review = s.gw.reviews.list({ status: 'pending' })[0];
    for (let i = 0; i < 100 && !review; i++) {
      await new Promise((r) => setTimeout(r, 20));
      review = s.gw.reviews.list({ status: 'pending' })[0];
    }
    assert.ok(review, 'a review is pending');
    assert.match(
      review.statement,
      /POST \/chat\/completions model=gpt-4o: Generate a database password/,
    );
    assert.equal(s.upstream.received.length, 0, 'nothing was sent while held');
    await s.gw.reviews.decide(review.id, approver, 'approve', 'break-glass drill');
    const r = await pending;
    assert.equal(r.choices[0]?.message.content, 'here you go');
    const approved = await s.gw.ledger.query({ types: ['command.approved'] });
    assert.equal(approved.length, 1);
  });

  it('refuses concurrent requests past a budget, reserved before dispatch', async () => {
    const yaml = `
budgets:
  - { name: agent-hourly, per: identity, window: 1h, max_requests: 3 }
  - { name: owner-daily-tokens, per: owner, window: 1d, max_tokens: 100000 }
`;
    await using s = await startLlmStack({ yaml });
    s.upstream.reply = { chunks: ['ok'], delayMs: 30 };
    const client = new OpenAI({ baseURL: `${s.base}/v1`, apiKey: s.token, maxRetries: 0 });
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () =>
        client.chat.completions.create({
          model: 'gpt-4o',
          stream: false,
          max_tokens: 100,
          messages: [{ role: 'user', content: 'hi' }],
        }),
      ),
    );
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    const refused = results.filter(
      (r) => r.status === 'rejected' && r.reason instanceof OpenAI.RateLimitError,
    );
    assert.equal(ok, 3);
    assert.equal(refused.length, 7);
    const err = (refused[0] as PromiseRejectedResult).reason as InstanceType<
      typeof OpenAI.RateLimitError
    >;
    assert.match(err.message, /budget agent-hourly: 3 requests per hour used up/);
    assert.ok(Number(err.headers?.get('retry-after')) > 0);
    assert.equal(s.upstream.received.length, 3);
    // Settled to the usage the upstream reported (18 tokens per call), not the reservation.
    assert.equal(
      s.gw.budgets.usage('owner-daily-tokens', 'owner:olivia.owner@example.com').tokens,
      3 * 18,
    );
  });

  it('speaks the Anthropic dialect, streaming and masked', async () => {
    await using s = await startLlmStack({
      yaml: MASKING,
      connections: (url) =>
        `  - { name: claude, type: llm, dialect: anthropic, url: '${url}', api_key: '\${env:UPSTREAM_KEY}' }\n`,
    });
    const tail = ' and thanks for all the fish'.repeat(6);
    s.upstream.reply = { chunks: ['mail ', 'amelia.watson@exa', 'mple.org please', tail] };
    const client = new Anthropic({ baseURL: `${s.base}/c/claude`, apiKey: s.token, maxRetries: 0 });
    const stream = client.messages.stream({
      model: 'claude-sonnet-4',
      max_tokens: 256,
      messages: [{ role: 'user', content: 'contact?' }],
    });
    const final = await stream.finalMessage();
    const text = final.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
    assert.equal(text, `mail **** please${tail}`);
    const seen = s.upstream.received.at(-1);
    assert.equal(seen?.path, '/v1/messages');
    assert.equal(seen?.headers['x-api-key'], UPSTREAM_KEY);
    const plain = await client.messages.create({
      model: 'claude-sonnet-4',
      max_tokens: 256,
      messages: [{ role: 'user', content: 'contact?' }],
    });
    assert.equal(
      plain.content[0]?.type === 'text' && plain.content[0].text,
      `mail **** please${tail}`,
    );
    await new Promise((r) => setTimeout(r, 50));
    const responded = await s.gw.ledger.query({ types: ['llm.responded'] });
    const llm = responded[0]?.data.llm as {
      usage: { totalTokens: number };
      choices: { text: string }[];
    };
    assert.equal(llm.usage.totalTokens, 18);
    assert.ok(llm.choices[0]?.text.startsWith('mail [masked:email] please'));
  });
});
