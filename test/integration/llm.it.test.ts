/**
 * The official OpenAI client through Airlock to a local OpenAI-compatible server (the fake
 * upstream in test/helpers/llm-upstream.ts stands in for the real API, which cannot be reached
 * here): streaming and not, tool calls, errors in the SDK's shape, and what the ledger keeps.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import OpenAI from 'openai';
import { startLlmStack, UPSTREAM_KEY } from '../helpers/llm-stack.ts';

const events = async (
  gw: {
    ledger: { query: (f: object) => Promise<{ type: string; data: Record<string, unknown> }[]> };
  },
  types: string[],
) => {
  await new Promise((r) => setTimeout(r, 50));
  return gw.ledger.query({ types });
};

describe('LLM gateway with the OpenAI SDK', () => {
  it('relays a chat completion and records request and response', async () => {
    await using s = await startLlmStack();
    s.upstream.reply = { chunks: ['Hello', ', world'] };
    const client = new OpenAI({ baseURL: `${s.base}/c/openai`, apiKey: s.token, maxRetries: 0 });
    const r = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'say hello' }],
    });
    assert.equal(r.choices[0]?.message.content, 'Hello, world');
    const seen = s.upstream.received.at(-1);
    assert.equal(seen?.path, '/v1/chat/completions');
    assert.equal(seen?.headers.authorization, `Bearer ${UPSTREAM_KEY}`);
    assert.ok(
      !JSON.stringify(seen?.headers).includes(s.token),
      'the Airlock token never goes upstream',
    );
    const [req] = await events(s.gw, ['llm.requested']);
    const [res] = await events(s.gw, ['llm.responded']);
    const cmd = req?.data.command as { llm: { model: string; messages: { text: string }[] } };
    assert.equal(cmd.llm.model, 'gpt-4o');
    assert.equal(cmd.llm.messages[0]?.text, 'say hello');
    assert.equal(req?.data.decision, 'allow');
    const llm = res?.data.llm as { choices: { text: string }[]; usage: { totalTokens: number } };
    assert.equal(llm.choices[0]?.text, 'Hello, world');
    assert.equal(llm.usage.totalTokens, 18);
  });

  it('streams chunk by chunk and records the whole answer with usage', async () => {
    await using s = await startLlmStack();
    s.upstream.reply = { chunks: ['one ', 'two ', 'three'] };
    const client = new OpenAI({ baseURL: `${s.base}/v1`, apiKey: s.token, maxRetries: 0 });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      stream: true,
      messages: [{ role: 'user', content: 'count' }],
    });
    const pieces: string[] = [];
    let usageChunks = 0;
    for await (const chunk of stream) {
      if (chunk.choices.length === 0) usageChunks++;
      const t = chunk.choices[0]?.delta.content;
      if (t) pieces.push(t);
    }
    assert.deepEqual(pieces, ['one ', 'two ', 'three']);
    assert.equal(
      usageChunks,
      0,
      'the usage chunk Airlock asked for is not passed to a client that did not',
    );
    const upstreamBody = JSON.parse(s.upstream.received.at(-1)?.body ?? '{}');
    assert.equal(upstreamBody.stream_options.include_usage, true);
    const [res] = await events(s.gw, ['llm.responded']);
    const llm = res?.data.llm as { choices: { text: string }[]; usage: { totalTokens: number } };
    assert.equal(llm.choices[0]?.text, 'one two three');
    assert.equal(llm.usage.totalTokens, 18);
  });

  it('relays tool calls, streamed and not', async () => {
    await using s = await startLlmStack();
    s.upstream.reply = { toolCalls: [{ name: 'run_sql', arguments: '{"sql":"select 1"}' }] };
    const client = new OpenAI({ baseURL: `${s.base}/c/openai`, apiKey: s.token, maxRetries: 0 });
    const tools = [
      { type: 'function' as const, function: { name: 'run_sql', parameters: { type: 'object' } } },
    ];
    const r = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'q' }],
      tools,
    });
    const call = r.choices[0]?.message.tool_calls?.[0];
    assert.equal(call?.type === 'function' && call.function.arguments, '{"sql":"select 1"}');
    const stream = client.chat.completions.stream({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'q' }],
      tools,
    });
    const final = await stream.finalChatCompletion();
    const streamed = final.choices[0]?.message.tool_calls?.[0];
    assert.equal(
      streamed?.type === 'function' && streamed.function.arguments,
      '{"sql":"select 1"}',
    );
    const responded = await events(s.gw, ['llm.responded']);
    const llm = responded.at(-1)?.data.llm as {
      choices: { toolCalls: { name: string; arguments: string }[] }[];
    };
    assert.deepEqual(llm.choices[0]?.toolCalls, [
      { name: 'run_sql', arguments: '{"sql":"select 1"}' },
    ]);
    const requested = await events(s.gw, ['llm.requested']);
    const cmd = requested.at(-1)?.data.command as { llm: { tools: string[] } } | undefined;
    assert.deepEqual(cmd?.llm.tools, ['run_sql']);
  });

  it('serves completions, embeddings and responses', async () => {
    await using s = await startLlmStack();
    s.upstream.reply = { chunks: ['fine'] };
    const client = new OpenAI({ baseURL: `${s.base}/c/openai`, apiKey: s.token, maxRetries: 0 });
    const c = await client.completions.create({ model: 'davinci', prompt: 'hi' });
    assert.equal(c.choices[0]?.text, 'fine');
    const e = await client.embeddings.create({ model: 'emb', input: ['a', 'b'] });
    assert.equal(e.data.length, 2);
    const r = await client.responses.create({ model: 'gpt-4o', input: 'hi' });
    assert.equal(r.output_text, 'fine');
    const rs = await client.responses.create({ model: 'gpt-4o', input: 'hi', stream: true });
    let text = '';
    for await (const ev of rs) if (ev.type === 'response.output_text.delta') text += ev.delta;
    assert.equal(text, 'fine');
    const models = await client.models.list();
    assert.equal(models.data[0]?.id, 'fake-gpt');
  });

  it('refuses a revoked token at once, on a live keep-alive connection too', async () => {
    await using s = await startLlmStack();
    const client = new OpenAI({ baseURL: `${s.base}/v1`, apiKey: s.token, maxRetries: 0 });
    const ask = () =>
      client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] });
    await ask();
    const id = s.token.split('_')[1] as string;
    assert.ok(s.gw.tokens.revoke(id));
    await assert.rejects(ask(), (err: unknown) => err instanceof OpenAI.AuthenticationError);
    assert.equal(s.upstream.received.length, 1);
  });

  it('refuses a bad token with an error the SDK reports, and records why', async () => {
    await using s = await startLlmStack();
    const client = new OpenAI({ baseURL: `${s.base}/v1`, apiKey: 'alk_notatoken', maxRetries: 0 });
    await assert.rejects(
      client.chat.completions.create({
        model: 'gpt-4o',
        messages: [{ role: 'user', content: 'x' }],
      }),
      (err: unknown) => {
        assert.ok(err instanceof OpenAI.AuthenticationError);
        assert.equal(err.status, 401);
        assert.match(err.message, /authentication failed/);
        return true;
      },
    );
    assert.equal(s.upstream.received.length, 0);
    const failed = await events(s.gw, ['auth.failed']);
    assert.equal(failed.length, 1);
    assert.ok(!JSON.stringify(failed).includes('alk_notatoken'));
  });
});
