/**
 * A small, real OpenAI- and Anthropic-compatible HTTP server for tests and benchmarks. It stands
 * in for the providers' APIs, which cannot be reached from here: it speaks their wire formats
 * (JSON and SSE streaming, tool calls, usage) closely enough for the official SDKs, and records
 * every request it gets so tests can check what left the gateway.
 *
 * What it answers is scripted per test with `upstream.reply`; by default it echoes the last user
 * message. Streamed text is sent in the pieces given (`chunks`), so a test can split a secret
 * across chunks exactly where it wants.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Reply {
  /** Streamed pieces of the answer; joined for a non-streamed one. */
  chunks?: string[];
  /** Tool calls the model "makes" (arguments streamed in two halves). */
  toolCalls?: { name: string; arguments: string }[];
  /** Delay before each streamed chunk (ms). */
  delayMs?: number;
  /** Answer with this HTTP status and an error body instead. */
  status?: number;
}

export interface Received {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

export interface LlmUpstream extends AsyncDisposable {
  readonly url: string;
  readonly port: number;
  /** What the next requests get (until changed). */
  reply: Reply | ((body: Record<string, unknown>) => Reply);
  readonly received: Received[];
  close(): Promise<void>;
}

const USAGE = { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 };

/**
 * @example
 * await using up = await startLlmUpstream();
 * up.reply = { chunks: ['Hello', ' world'] };
 */
export async function startLlmUpstream(): Promise<LlmUpstream> {
  const received: Received[] = [];
  const state: { reply: LlmUpstream['reply'] } = { reply: (b) => ({ chunks: [echo(b)] }) };
  const server: Server = createServer((req, res) => {
    void handle(req, res, state, received).catch(() => res.destroy());
  });
  server.keepAliveTimeout = 30_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const close = async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get reply() {
      return state.reply;
    },
    set reply(r) {
      state.reply = r;
    },
    received,
    close,
    [Symbol.asyncDispose]: close,
  };
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  state: { reply: LlmUpstream['reply'] },
  received: Received[],
): Promise<void> {
  let text = '';
  for await (const c of req) text += c;
  const path = (req.url ?? '/').split('?')[0] as string;
  received.push({ method: req.method ?? '', path, headers: req.headers, body: text });
  if (req.method === 'GET' && path.endsWith('/models')) {
    return json(res, 200, { object: 'list', data: [{ id: 'fake-gpt', object: 'model' }] });
  }
  const body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  const reply = typeof state.reply === 'function' ? state.reply(body) : state.reply;
  if (reply.status) {
    return json(res, reply.status, {
      error: { message: 'upstream refused', type: 'server_error' },
    });
  }
  if (path.endsWith('/chat/completions')) return chat(res, body, reply);
  if (path.endsWith('/completions')) return completion(res, body, reply);
  if (path.endsWith('/embeddings')) return embeddings(res, body);
  if (path.endsWith('/responses')) return responses(res, body, reply);
  if (path.endsWith('/messages')) return messages(res, body, reply);
  if (path.startsWith('/admin') || path.startsWith('/api'))
    return json(res, 200, { path, method: req.method, body: text });
  json(res, 404, { error: { message: `no route ${path}`, type: 'not_found' } });
}

function echo(body: Record<string, unknown>): string {
  const messages = (body.messages as { role: string; content: unknown }[] | undefined) ?? [];
  const last = [...messages].reverse().find((m) => m.role === 'user');
  const content =
    typeof last?.content === 'string'
      ? last.content
      : JSON.stringify(last?.content ?? body.input ?? body.prompt ?? '');
  return `echo: ${content}`;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function sse(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  res.flushHeaders();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function send(
  res: ServerResponse,
  data: unknown,
  delayMs: number,
  event?: string,
): Promise<void> {
  if (delayMs > 0) await sleep(delayMs);
  res.write(
    `${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`,
  );
}

function toolCallsOf(reply: Reply) {
  return (reply.toolCalls ?? []).map((t, i) => ({
    id: `call_${i}`,
    type: 'function',
    function: { name: t.name, arguments: t.arguments },
  }));
}

async function chat(
  res: ServerResponse,
  body: Record<string, unknown>,
  reply: Reply,
): Promise<void> {
  const chunks = reply.chunks ?? [];
  const calls = toolCallsOf(reply);
  const finish = calls.length > 0 ? 'tool_calls' : 'stop';
  const base = { id: 'chatcmpl-fake', created: 1_700_000_000, model: String(body.model ?? 'fake') };
  if (body.stream !== true) {
    const message = {
      role: 'assistant',
      content: calls.length > 0 ? null : chunks.join(''),
      ...(calls.length > 0 ? { tool_calls: calls } : {}),
    };
    return json(res, 200, {
      ...base,
      object: 'chat.completion',
      choices: [{ index: 0, message, finish_reason: finish }],
      usage: USAGE,
    });
  }
  sse(res);
  const chunk = (delta: unknown, finish_reason: string | null = null) => ({
    ...base,
    object: 'chat.completion.chunk',
    choices: [{ index: 0, delta, finish_reason }],
  });
  const d = reply.delayMs ?? 0;
  await send(res, chunk({ role: 'assistant', content: '' }), d);
  for (const piece of chunks) await send(res, chunk({ content: piece }), d);
  for (const [i, c] of calls.entries()) {
    const half = Math.ceil(c.function.arguments.length / 2);
    await send(
      res,
      chunk({
        tool_calls: [
          {
            index: i,
            id: c.id,
            type: 'function',
            function: { name: c.function.name, arguments: c.function.arguments.slice(0, half) },
          },
        ],
      }),
      d,
    );
    await send(
      res,
      chunk({
        tool_calls: [{ index: i, function: { arguments: c.function.arguments.slice(half) } }],
      }),
      d,
    );
  }
  await send(res, chunk({}, finish), d);
  if ((body.stream_options as { include_usage?: boolean } | undefined)?.include_usage) {
    await send(res, { ...base, object: 'chat.completion.chunk', choices: [], usage: USAGE }, d);
  }
  await send(res, '[DONE]', 0);
  res.end();
}

async function completion(
  res: ServerResponse,
  body: Record<string, unknown>,
  reply: Reply,
): Promise<void> {
  const chunks = reply.chunks ?? [];
  const base = {
    id: 'cmpl-fake',
    object: 'text_completion',
    created: 1,
    model: String(body.model ?? 'fake'),
  };
  if (body.stream !== true) {
    return json(res, 200, {
      ...base,
      choices: [{ index: 0, text: chunks.join(''), finish_reason: 'stop' }],
      usage: USAGE,
    });
  }
  sse(res);
  for (const piece of chunks)
    await send(
      res,
      { ...base, choices: [{ index: 0, text: piece, finish_reason: null }] },
      reply.delayMs ?? 0,
    );
  await send(res, { ...base, choices: [{ index: 0, text: '', finish_reason: 'stop' }] }, 0);
  await send(res, '[DONE]', 0);
  res.end();
}

function embeddings(res: ServerResponse, body: Record<string, unknown>): void {
  const inputs = Array.isArray(body.input) ? body.input : [body.input];
  json(res, 200, {
    object: 'list',
    data: inputs.map((_, index) => ({ object: 'embedding', index, embedding: [0.1, 0.2, 0.3] })),
    model: String(body.model ?? 'fake'),
    usage: { prompt_tokens: 5, total_tokens: 5 },
  });
}

async function responses(
  res: ServerResponse,
  body: Record<string, unknown>,
  reply: Reply,
): Promise<void> {
  const text = (reply.chunks ?? []).join('');
  const usage = { input_tokens: 11, output_tokens: 7, total_tokens: 18 };
  const output = [
    {
      type: 'message',
      id: 'msg_1',
      role: 'assistant',
      content: [{ type: 'output_text', text, annotations: [] }],
    },
  ];
  const response = {
    id: 'resp_fake',
    object: 'response',
    model: String(body.model ?? 'fake'),
    status: 'completed',
    output,
    usage,
  };
  if (body.stream !== true) return json(res, 200, response);
  sse(res);
  const ev = (type: string, data: Record<string, unknown>) =>
    send(res, { type, ...data }, reply.delayMs ?? 0, type);
  await ev('response.created', { response: { ...response, status: 'in_progress', output: [] } });
  for (const piece of reply.chunks ?? []) {
    await ev('response.output_text.delta', {
      item_id: 'msg_1',
      output_index: 0,
      content_index: 0,
      delta: piece,
    });
  }
  await ev('response.output_text.done', {
    item_id: 'msg_1',
    output_index: 0,
    content_index: 0,
    text,
  });
  await ev('response.completed', { response });
  res.end();
}

async function messages(
  res: ServerResponse,
  body: Record<string, unknown>,
  reply: Reply,
): Promise<void> {
  const chunks = reply.chunks ?? [];
  const message = {
    id: 'msg_fake',
    type: 'message',
    role: 'assistant',
    model: String(body.model ?? 'fake'),
  };
  const tools = reply.toolCalls ?? [];
  if (body.stream !== true) {
    const content = [
      ...(chunks.length > 0 ? [{ type: 'text', text: chunks.join('') }] : []),
      ...tools.map((t, i) => ({
        type: 'tool_use',
        id: `toolu_${i}`,
        name: t.name,
        input: JSON.parse(t.arguments),
      })),
    ];
    return json(res, 200, {
      ...message,
      content,
      stop_reason: tools.length > 0 ? 'tool_use' : 'end_turn',
      usage: { input_tokens: 11, output_tokens: 7 },
    });
  }
  sse(res);
  const d = reply.delayMs ?? 0;
  const ev = (type: string, data: Record<string, unknown>) => send(res, { type, ...data }, d, type);
  await ev('message_start', {
    message: {
      ...message,
      content: [],
      stop_reason: null,
      usage: { input_tokens: 11, output_tokens: 1 },
    },
  });
  await ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
  await send(res, { type: 'ping' }, 0, 'ping');
  for (const piece of chunks)
    await ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: piece } });
  await ev('content_block_stop', { index: 0 });
  for (const [i, t] of tools.entries()) {
    await ev('content_block_start', {
      index: i + 1,
      content_block: { type: 'tool_use', id: `toolu_${i}`, name: t.name, input: {} },
    });
    await ev('content_block_delta', {
      index: i + 1,
      delta: { type: 'input_json_delta', partial_json: t.arguments },
    });
    await ev('content_block_stop', { index: i + 1 });
  }
  await ev('message_delta', {
    delta: { stop_reason: tools.length > 0 ? 'tool_use' : 'end_turn' },
    usage: { output_tokens: 7 },
  });
  await ev('message_stop', {});
  res.end();
}
