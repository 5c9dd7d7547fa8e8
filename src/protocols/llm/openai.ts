/**
 * The OpenAI dialect: chat completions, completions, embeddings and responses
 * (https://platform.openai.com/docs/api-reference). Streams are SSE `data:` chunks ending in
 * `data: [DONE]` (chat, completions) or typed events (`event: response.output_text.delta`).
 */

import {
  arr,
  contentText,
  estimateTokens,
  int,
  type Json,
  obj,
  params,
  str,
  toolNames,
} from './json.ts';
import type { SseEvent } from './sse.ts';
import type {
  LlmDialect,
  LlmOperation,
  LlmRequest,
  LlmResponseRecord,
  LlmUsage,
  StreamState,
  StreamStep,
  TextSlot,
} from './types.ts';

/** By path suffix, so a base URL with or without `/v1` works; the first match wins. */
const OPERATIONS: readonly (readonly [string, LlmOperation])[] = [
  ['/chat/completions', 'chat'],
  ['/completions', 'completion'],
  ['/embeddings', 'embedding'],
  ['/responses', 'response'],
];

function operationOf(path: string): LlmOperation | undefined {
  const p = path.replace(/\/+$/, '');
  return OPERATIONS.find(([suffix]) => p.endsWith(suffix))?.[1];
}

const PARAMS = [
  'temperature',
  'top_p',
  'n',
  'max_tokens',
  'max_completion_tokens',
  'max_output_tokens',
  'stream',
  'tool_choice',
  'user',
  'seed',
  'encoding_format',
  'dimensions',
  'reasoning_effort',
];

/**
 * @example
 * openai.parseRequest('/chat/completions', { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
 */
export const openai: LlmDialect = {
  name: 'openai',
  sdkBasePath: '/v1',
  isOperation(path) {
    return operationOf(path) !== undefined;
  },
  parseRequest(path, body) {
    const op = operationOf(path);
    const b = obj(body);
    if (op === undefined || b === undefined) return undefined;
    return requestOf(op, b);
  },
  prepare(req, body) {
    const wants = obj(body.stream_options)?.include_usage === true;
    if (!req.stream || (req.operation !== 'chat' && req.operation !== 'completion') || wants) {
      return { changed: false, clientWantsUsage: true };
    }
    body.stream_options = { ...(obj(body.stream_options) ?? {}), include_usage: true };
    return { changed: true, clientWantsUsage: false };
  },
  parseResponse(req, body) {
    return responseOf(req, obj(body) ?? {});
  },
  newStream(req, opts) {
    return req.operation === 'response' ? new ResponsesStream() : new ChunkStream(opts);
  },
  errorBody(message, type, code) {
    return { error: { message, type, param: null, code } };
  },
};

function requestOf(op: LlmOperation, b: Json): LlmRequest {
  const input = inputOf(op, b);
  const maxOutputTokens =
    int(b.max_completion_tokens) ?? int(b.max_tokens) ?? int(b.max_output_tokens);
  const tools = toolNames(b.tools);
  return {
    operation: op,
    model: str(b.model) ?? '',
    stream: b.stream === true,
    prompt: input.text,
    maxOutputTokens: op === 'embedding' ? 0 : maxOutputTokens,
    promptTokens: estimateTokens(input.text, input.items),
    record: {
      ...input.record,
      ...(tools.length > 0 ? { tools } : {}),
      params: params(b, PARAMS),
    },
  };
}

interface Input {
  readonly text: string;
  readonly items: number;
  readonly record: Record<string, unknown>;
}

function inputOf(op: LlmOperation, b: Json): Input {
  if (op === 'chat') return messagesOf(arr(b.messages));
  if (op === 'response') {
    const instructions = str(b.instructions);
    const input = typeof b.input === 'string' ? [{ role: 'user', content: b.input }] : arr(b.input);
    const m = messagesOf(input);
    if (instructions === undefined) return m;
    return {
      text: `${instructions}\n${m.text}`,
      items: m.items + 1,
      record: { instructions, ...m.record },
    };
  }
  const field = op === 'completion' ? b.prompt : b.input;
  const list = typeof field === 'string' ? [field] : arr(field);
  const texts = list.map((x) => (typeof x === 'string' ? x : JSON.stringify(x)));
  return {
    text: texts.join('\n'),
    items: texts.length,
    record: op === 'completion' ? { prompt: texts } : { input: texts },
  };
}

/** Chat messages (and Responses input items) as `{ role, text }`, tool calls and results too. */
function messagesOf(list: readonly unknown[]): Input {
  const messages: Record<string, unknown>[] = [];
  const texts: string[] = [];
  for (const raw of list) {
    const m = obj(raw);
    if (m === undefined) continue;
    const text = contentText(m.content ?? m.output ?? '');
    const calls = arr(m.tool_calls).map((c) => {
      const f = obj(obj(c)?.function);
      return { name: str(f?.name) ?? '', arguments: str(f?.arguments) ?? '' };
    });
    if (m.type === 'function_call')
      calls.push({ name: str(m.name) ?? '', arguments: str(m.arguments) ?? '' });
    texts.push(text, ...calls.map((c) => c.arguments));
    messages.push({
      role: str(m.role) ?? str(m.type) ?? 'unknown',
      text,
      ...(calls.length > 0 ? { toolCalls: calls } : {}),
    });
  }
  return { text: texts.join('\n'), items: messages.length, record: { messages } };
}

function usageOf(u: unknown): LlmUsage | undefined {
  const o = obj(u);
  if (o === undefined) return undefined;
  const input = int(o.prompt_tokens) ?? int(o.input_tokens) ?? 0;
  const output = int(o.completion_tokens) ?? int(o.output_tokens) ?? 0;
  return {
    inputTokens: input,
    outputTokens: output,
    totalTokens: int(o.total_tokens) ?? input + output,
  };
}

function responseOf(req: LlmRequest, b: Json): LlmResponseRecord {
  const base = {
    ...(str(b.id) ? { id: str(b.id) as string } : {}),
    ...(str(b.model) ? { model: str(b.model) as string } : {}),
    ...(usageOf(b.usage) ? { usage: usageOf(b.usage) as LlmUsage } : {}),
  };
  if (req.operation === 'embedding')
    return { ...base, choices: [], embeddings: arr(b.data).length };
  if (req.operation === 'response') return { ...base, choices: [responsesOutput(arr(b.output))] };
  const choices = arr(b.choices).map((c, i) => {
    const o = obj(c) ?? {};
    const msg = obj(o.message);
    const calls = arr(msg?.tool_calls).map((t) => {
      const f = obj(obj(t)?.function);
      return { name: str(f?.name) ?? '', arguments: str(f?.arguments) ?? '' };
    });
    return {
      index: int(o.index) ?? i,
      text: msg ? contentText(msg.content ?? '') || (str(msg.refusal) ?? '') : (str(o.text) ?? ''),
      ...(str(o.finish_reason) ? { finishReason: str(o.finish_reason) as string } : {}),
      ...(calls.length > 0 ? { toolCalls: calls } : {}),
    };
  });
  return { ...base, choices };
}

function responsesOutput(output: readonly unknown[]) {
  const texts: string[] = [];
  const calls: { name: string; arguments: string }[] = [];
  for (const raw of output) {
    const item = obj(raw);
    if (item?.type === 'function_call') {
      calls.push({ name: str(item.name) ?? '', arguments: str(item.arguments) ?? '' });
    } else if (item !== undefined) {
      texts.push(contentText(item.content ?? ''));
    }
  }
  return { index: 0, text: texts.join('\n'), ...(calls.length > 0 ? { toolCalls: calls } : {}) };
}

// ---- streams ----

function jsonOf(ev: SseEvent): Record<string, unknown> | undefined {
  if (ev.data === '' || ev.data === '[DONE]') return undefined;
  try {
    return obj(JSON.parse(ev.data)) as Record<string, unknown> | undefined;
  } catch {
    return undefined;
  }
}

function slot(key: string, holder: Record<string, unknown>, field: string): TextSlot | undefined {
  const text = holder[field];
  if (typeof text !== 'string' || text === '') return undefined;
  return {
    key,
    text,
    set: (t) => {
      holder[field] = t;
    },
  };
}

function stepOf(
  ev: SseEvent,
  json: Record<string, unknown>,
  parts: { slots: TextSlot[]; ends: string[]; whole?: boolean; drop?: boolean },
): StreamStep {
  return {
    slots: parts.slots,
    ends: parts.ends,
    whole: parts.whole ?? false,
    drop: parts.drop ?? false,
    encode: () => ({ ...ev, data: JSON.stringify(json) }),
  };
}

interface ChoiceAcc {
  text: string;
  finishReason?: string;
  tools: Map<number, { name: string; arguments: string }>;
}

/** `chat.completion.chunk` and `text_completion` chunks. */
class ChunkStream implements StreamState {
  readonly #dropUsageOnly: boolean;
  readonly #choices = new Map<number, ChoiceAcc>();
  #template: Record<string, unknown> = {};
  #usage: LlmUsage | undefined;
  #id: string | undefined;
  #model: string | undefined;
  #chat = true;

  constructor(opts: { dropUsageOnly: boolean }) {
    this.#dropUsageOnly = opts.dropUsageOnly;
  }

  step(ev: SseEvent): StreamStep | undefined {
    const json = jsonOf(ev);
    if (json === undefined) return undefined;
    this.#id ??= str(json.id);
    this.#model ??= str(json.model);
    this.#template = { ...json, choices: [] };
    delete this.#template.usage;
    const usage = usageOf(json.usage);
    if (usage) this.#usage = usage;
    const slots: TextSlot[] = [];
    const ends: string[] = [];
    const choices = arr(json.choices);
    for (const c of choices)
      this.#choice(obj(c) as Record<string, unknown> | undefined, slots, ends);
    const drop = this.#dropUsageOnly && choices.length === 0 && usage !== undefined;
    return stepOf(ev, json, { slots, ends, drop });
  }

  #choice(c: Record<string, unknown> | undefined, slots: TextSlot[], ends: string[]): void {
    if (c === undefined) return;
    const index = int(c.index) ?? 0;
    const acc = this.#acc(index);
    const delta = obj(c.delta) as Record<string, unknown> | undefined;
    if (delta === undefined) this.#chat = false;
    const holder = delta ?? c;
    const content = slot(`${index}:content`, holder, delta ? 'content' : 'text');
    if (content) {
      acc.text += content.text;
      slots.push(content);
    }
    for (const raw of arr(delta?.tool_calls)) this.#toolDelta(index, acc, raw, slots);
    const finish = str(c.finish_reason);
    if (finish !== undefined) {
      acc.finishReason = finish;
      ends.push(`${index}:content`, ...[...acc.tools.keys()].map((t) => `${index}:tool:${t}`));
    }
  }

  #toolDelta(index: number, acc: ChoiceAcc, raw: unknown, slots: TextSlot[]): void {
    const call = obj(raw);
    const f = obj(call?.function) as Record<string, unknown> | undefined;
    const t = int(call?.index) ?? 0;
    const tool = acc.tools.get(t) ?? { name: '', arguments: '' };
    acc.tools.set(t, tool);
    tool.name += str(f?.name) ?? '';
    const args = f && slot(`${index}:tool:${t}`, f, 'arguments');
    if (args) {
      tool.arguments += args.text;
      slots.push(args);
    }
  }

  #acc(index: number): ChoiceAcc {
    let acc = this.#choices.get(index);
    if (!acc) {
      acc = { text: '', tools: new Map() };
      this.#choices.set(index, acc);
    }
    return acc;
  }

  flushEvent(key: string, text: string): SseEvent {
    const [index, kind, t] = key.split(':');
    const i = Number(index);
    const choice: Record<string, unknown> = this.#chat
      ? {
          index: i,
          delta:
            kind === 'tool'
              ? { tool_calls: [{ index: Number(t), function: { arguments: text } }] }
              : { content: text },
          finish_reason: null,
        }
      : { index: i, text, finish_reason: null };
    return { data: JSON.stringify({ ...this.#template, choices: [choice] }) };
  }

  record(): LlmResponseRecord {
    const choices = [...this.#choices].map(([index, acc]) => ({
      index,
      text: acc.text,
      ...(acc.finishReason ? { finishReason: acc.finishReason } : {}),
      ...(acc.tools.size > 0 ? { toolCalls: [...acc.tools.values()] } : {}),
    }));
    return {
      ...(this.#id ? { id: this.#id } : {}),
      ...(this.#model ? { model: this.#model } : {}),
      choices,
      ...(this.#usage ? { usage: this.#usage } : {}),
    };
  }
}

/** Responses API events (`response.output_text.delta`, `response.completed`, ...). */
class ResponsesStream implements StreamState {
  readonly #texts = new Map<string, string>();
  readonly #calls = new Map<string, { name: string; arguments: string }>();
  /** `item_id` of each text stream, for the delta events that release held text. */
  readonly #items = new Map<string, string>();
  #usage: LlmUsage | undefined;
  #id: string | undefined;
  #model: string | undefined;

  step(ev: SseEvent): StreamStep | undefined {
    const json = jsonOf(ev);
    if (json === undefined) return undefined;
    const type = str(json.type) ?? ev.event ?? '';
    const key = `${int(json.output_index) ?? 0}:${int(json.content_index) ?? 0}`;
    const item = str(json.item_id);
    if (item !== undefined) this.#items.set(key, item);
    if (
      type === 'response.output_text.delta' ||
      type === 'response.function_call_arguments.delta'
    ) {
      const s = slot(key, json, 'delta');
      if (s) this.#append(type, key, s.text, json);
      return stepOf(ev, json, { slots: s ? [s] : [], ends: [] });
    }
    if (type === 'response.completed' || type === 'response.incomplete') {
      const response = obj(json.response);
      this.#usage = usageOf(response?.usage) ?? this.#usage;
      this.#id = str(response?.id) ?? this.#id;
      this.#model = str(response?.model) ?? this.#model;
    }
    if (type === 'response.output_item.added') {
      const item = obj(json.item);
      if (item?.type === 'function_call')
        this.#calls.set(key, { name: str(item.name) ?? '', arguments: '' });
    }
    const ends = type.endsWith('.done') ? [key] : [];
    return stepOf(ev, json, { slots: [], ends, whole: true });
  }

  #append(type: string, key: string, text: string, json: Json): void {
    if (type === 'response.output_text.delta') {
      this.#texts.set(key, (this.#texts.get(key) ?? '') + text);
      return;
    }
    const call = this.#calls.get(key) ?? { name: str(json.name) ?? '', arguments: '' };
    call.arguments += text;
    this.#calls.set(key, call);
  }

  flushEvent(key: string, text: string): SseEvent {
    const [output, content] = key.split(':').map(Number);
    const isCall = this.#calls.has(key);
    const type = isCall ? 'response.function_call_arguments.delta' : 'response.output_text.delta';
    const data = {
      type,
      ...(this.#items.has(key) ? { item_id: this.#items.get(key) } : {}),
      output_index: output,
      ...(isCall ? {} : { content_index: content }),
      delta: text,
    };
    return { event: type, data: JSON.stringify(data) };
  }

  record(): LlmResponseRecord {
    const text = [...this.#texts.values()].join('\n');
    const calls = [...this.#calls.values()];
    return {
      ...(this.#id ? { id: this.#id } : {}),
      ...(this.#model ? { model: this.#model } : {}),
      choices: [{ index: 0, text, ...(calls.length > 0 ? { toolCalls: calls } : {}) }],
      ...(this.#usage ? { usage: this.#usage } : {}),
    };
  }
}
