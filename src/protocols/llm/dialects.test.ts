import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { anthropic } from './anthropic.ts';
import { openai } from './openai.ts';
import { SseParser } from './sse.ts';

const sse = (events: { event?: string; data: unknown }[]) =>
  new TextEncoder().encode(
    events
      .map(
        (e) =>
          `${e.event ? `event: ${e.event}\n` : ''}data: ${typeof e.data === 'string' ? e.data : JSON.stringify(e.data)}\n\n`,
      )
      .join(''),
  );

describe('OpenAI dialect', () => {
  it('reads chat requests: model, prompt text, tools, limits, estimate', () => {
    const r = openai.parseRequest('/chat/completions', {
      model: 'gpt-4o',
      max_completion_tokens: 300,
      stream: true,
      messages: [
        { role: 'system', content: 'be brief' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'hi there' },
            { type: 'image_url', image_url: { url: 'x' } },
          ],
        },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ function: { name: 'f', arguments: '{"a":1}' } }],
        },
        { role: 'tool', content: 'result 42' },
      ],
      tools: [{ type: 'function', function: { name: 'f', parameters: {} } }],
    });
    assert.ok(r);
    assert.deepEqual(
      [r.operation, r.model, r.stream, r.maxOutputTokens],
      ['chat', 'gpt-4o', true, 300],
    );
    assert.match(r.prompt, /be brief[\s\S]*hi there[\s\S]*\{"a":1\}[\s\S]*result 42/);
    assert.deepEqual(r.record.tools, ['f']);
    assert.ok(r.promptTokens > 10);
    assert.equal(openai.parseRequest('/models', {}), undefined);
    assert.equal(openai.parseRequest('/chat/completions', [1]), undefined);
  });

  it('asks for usage in streams once, and drops that chunk for clients that did not', () => {
    const req = openai.parseRequest('/chat/completions', {
      model: 'm',
      stream: true,
      messages: [],
    });
    assert.ok(req);
    const body: Record<string, unknown> = { stream: true };
    assert.deepEqual(openai.prepare(req, body), { changed: true, clientWantsUsage: false });
    assert.deepEqual(body.stream_options, { include_usage: true });
    assert.deepEqual(openai.prepare(req, body), { changed: false, clientWantsUsage: true });
    const state = openai.newStream(req, { dropUsageOnly: true });
    const events = new SseParser().push(
      sse([
        { data: { id: 'x', model: 'm', choices: [{ index: 0, delta: { content: 'a' } }] } },
        { data: { id: 'x', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] } },
        {
          data: {
            id: 'x',
            choices: [],
            usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
          },
        },
        { data: '[DONE]' },
      ]),
    );
    const steps = events.map((e) => state.step(e));
    assert.deepEqual(
      steps.map((s) => s?.drop),
      [false, false, true, undefined],
    );
    assert.deepEqual(steps[1]?.ends, ['0:content']);
    assert.deepEqual(state.record(), {
      id: 'x',
      model: 'm',
      choices: [{ index: 0, text: 'a', finishReason: 'stop' }],
      usage: { inputTokens: 3, outputTokens: 1, totalTokens: 4 },
    });
    assert.deepEqual(JSON.parse(state.flushEvent('0:tool:1', 'xy').data).choices[0].delta, {
      tool_calls: [{ index: 1, function: { arguments: 'xy' } }],
    });
  });
});

describe('Anthropic dialect', () => {
  it('reads messages requests and streams, and builds flush events', () => {
    const r = anthropic.parseRequest('/v1/messages', {
      model: 'claude',
      max_tokens: 64,
      system: [{ type: 'text', text: 'sys' }],
      messages: [
        { role: 'user', content: 'hello' },
        { role: 'assistant', content: [{ type: 'tool_use', name: 'lookup', input: { q: 1 } }] },
        {
          role: 'user',
          content: [{ type: 'tool_result', content: [{ type: 'text', text: 'found' }] }],
        },
      ],
    });
    assert.ok(r);
    assert.deepEqual([r.model, r.maxOutputTokens], ['claude', 64]);
    assert.match(r.prompt, /sys[\s\S]*hello[\s\S]*\{"q":1\}[\s\S]*found/);
    const state = anthropic.newStream(r, { dropUsageOnly: false });
    const events = new SseParser().push(
      sse([
        {
          event: 'message_start',
          data: {
            type: 'message_start',
            message: { id: 'm1', model: 'claude', usage: { input_tokens: 9, output_tokens: 1 } },
          },
        },
        {
          event: 'content_block_start',
          data: {
            type: 'content_block_start',
            index: 0,
            content_block: { type: 'text', text: '' },
          },
        },
        {
          event: 'content_block_delta',
          data: {
            type: 'content_block_delta',
            index: 0,
            delta: { type: 'text_delta', text: 'hi' },
          },
        },
        { event: 'content_block_stop', data: { type: 'content_block_stop', index: 0 } },
        {
          event: 'message_delta',
          data: {
            type: 'message_delta',
            delta: { stop_reason: 'end_turn' },
            usage: { output_tokens: 5 },
          },
        },
      ]),
    );
    const steps = events.map((e) => state.step(e));
    assert.equal(steps[2]?.slots[0]?.text, 'hi');
    assert.deepEqual(steps[3]?.ends, ['0']);
    assert.deepEqual(state.record().usage, { inputTokens: 9, outputTokens: 5, totalTokens: 14 });
    assert.equal(state.record().choices[0]?.finishReason, 'end_turn');
    const flush = state.flushEvent('0', 'rest');
    assert.equal(flush.event, 'content_block_delta');
    assert.deepEqual(JSON.parse(flush.data).delta, { type: 'text_delta', text: 'rest' });
  });
});
