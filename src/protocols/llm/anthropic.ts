/**
 * The Anthropic dialect: the Messages API (https://docs.anthropic.com/en/api/messages). Streams
 * are typed SSE events: `message_start`, `content_block_start`, `content_block_delta` (text or
 * `input_json_delta`), `content_block_stop`, `message_delta` (stop reason, usage), `message_stop`.
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
  LlmRequest,
  LlmResponseRecord,
  LlmUsage,
  StreamState,
  StreamStep,
  TextSlot,
} from './types.ts';

const PARAMS = ['max_tokens', 'temperature', 'top_p', 'top_k', 'stream'];

/**
 * @example
 * anthropic.parseRequest('/v1/messages', { model: 'claude-sonnet-4', max_tokens: 256, messages });
 */
export const anthropic: LlmDialect = {
  name: 'anthropic',
  sdkBasePath: '',
  isOperation(path) {
    return path.replace(/\/+$/, '').endsWith('/messages');
  },
  parseRequest(path, body) {
    const b = obj(body);
    if (!anthropic.isOperation(path) || b === undefined) return undefined;
    return requestOf(b);
  },
  prepare() {
    return { changed: false, clientWantsUsage: true };
  },
  parseResponse(_req, body) {
    const b = obj(body) ?? {};
    const { text, calls } = blocksOf(arr(b.content));
    const usage = usageOf(b.usage);
    return {
      ...(str(b.id) ? { id: str(b.id) as string } : {}),
      ...(str(b.model) ? { model: str(b.model) as string } : {}),
      choices: [
        {
          index: 0,
          text,
          ...(str(b.stop_reason) ? { finishReason: str(b.stop_reason) as string } : {}),
          ...(calls.length > 0 ? { toolCalls: calls } : {}),
        },
      ],
      ...(usage ? { usage } : {}),
    };
  },
  newStream() {
    return new MessagesStream();
  },
  errorBody(message, type, code) {
    return { type: 'error', error: { type, message, code } };
  },
};

function requestOf(b: Json): LlmRequest {
  const system = contentText(b.system ?? '');
  const messages: Record<string, unknown>[] = [];
  const texts = [system];
  for (const raw of arr(b.messages)) {
    const m = obj(raw);
    if (m === undefined) continue;
    const { text, calls } = blocksOf(
      typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : arr(m.content),
    );
    texts.push(text, ...calls.map((c) => c.arguments));
    messages.push({
      role: str(m.role) ?? 'unknown',
      text,
      ...(calls.length > 0 ? { toolCalls: calls } : {}),
    });
  }
  const tools = toolNames(b.tools);
  const prompt = texts.filter((t) => t !== '').join('\n');
  return {
    operation: 'message',
    model: str(b.model) ?? '',
    stream: b.stream === true,
    prompt,
    maxOutputTokens: int(b.max_tokens),
    promptTokens: estimateTokens(prompt, messages.length + 1),
    record: {
      ...(system ? { system } : {}),
      messages,
      ...(tools.length > 0 ? { tools } : {}),
      params: params(b, PARAMS),
    },
  };
}

/** Text blocks joined; tool_use blocks as calls; tool_result content as text. */
function blocksOf(blocks: readonly unknown[]) {
  const texts: string[] = [];
  const calls: { name: string; arguments: string }[] = [];
  for (const raw of blocks) {
    const block = obj(raw);
    if (block?.type === 'tool_use') {
      calls.push({ name: str(block.name) ?? '', arguments: JSON.stringify(block.input ?? {}) });
    } else if (block?.type === 'tool_result') {
      texts.push(contentText(block.content ?? ''));
    } else if (block !== undefined) {
      texts.push(str(block.text) ?? str(block.thinking) ?? '');
    }
  }
  return { text: texts.filter((t) => t !== '').join('\n'), calls };
}

function usageOf(u: unknown): LlmUsage | undefined {
  const o = obj(u);
  if (o === undefined) return undefined;
  const input =
    (int(o.input_tokens) ?? 0) +
    (int(o.cache_creation_input_tokens) ?? 0) +
    (int(o.cache_read_input_tokens) ?? 0);
  const output = int(o.output_tokens) ?? 0;
  return { inputTokens: input, outputTokens: output, totalTokens: input + output };
}

interface Block {
  kind: 'text' | 'tool';
  name: string;
  text: string;
}

class MessagesStream implements StreamState {
  readonly #blocks = new Map<number, Block>();
  #input = 0;
  #output = 0;
  #id: string | undefined;
  #model: string | undefined;
  #stop: string | undefined;

  step(ev: SseEvent): StreamStep | undefined {
    let json: Record<string, unknown> | undefined;
    try {
      json = obj(JSON.parse(ev.data)) as Record<string, unknown> | undefined;
    } catch {
      return undefined;
    }
    if (json === undefined) return undefined;
    const type = str(json.type) ?? ev.event ?? '';
    const index = int(json.index) ?? 0;
    const slots: TextSlot[] = [];
    const ends: string[] = [];
    if (type === 'message_start') this.#start(obj(json.message));
    else if (type === 'content_block_start') this.#blockStart(index, obj(json.content_block));
    else if (type === 'content_block_delta') this.#delta(index, json, slots);
    else if (type === 'content_block_stop') ends.push(String(index));
    else if (type === 'message_delta') {
      this.#stop = str(obj(json.delta)?.stop_reason) ?? this.#stop;
      this.#output = int(obj(json.usage)?.output_tokens) ?? this.#output;
    }
    const whole = type !== 'content_block_delta';
    return {
      slots,
      ends,
      whole,
      drop: false,
      encode: () => ({ ...ev, data: JSON.stringify(json) }),
    };
  }

  #start(message: Json | undefined): void {
    this.#id = str(message?.id);
    this.#model = str(message?.model);
    const u = usageOf(message?.usage);
    this.#input = u?.inputTokens ?? 0;
    this.#output = u?.outputTokens ?? 0;
  }

  #blockStart(index: number, block: Json | undefined): void {
    const tool = block?.type === 'tool_use';
    this.#blocks.set(index, {
      kind: tool ? 'tool' : 'text',
      name: str(block?.name) ?? '',
      text: '',
    });
  }

  #delta(index: number, json: Record<string, unknown>, slots: TextSlot[]): void {
    const delta = obj(json.delta) as Record<string, unknown> | undefined;
    if (delta === undefined) return;
    const field =
      delta.type === 'input_json_delta'
        ? 'partial_json'
        : delta.type === 'thinking_delta'
          ? 'thinking'
          : 'text';
    const text = delta[field];
    if (typeof text !== 'string' || text === '') return;
    const block = this.#blocks.get(index) ?? { kind: 'text', name: '', text: '' };
    this.#blocks.set(index, block);
    block.text += text;
    slots.push({
      key: String(index),
      text,
      set: (t) => {
        delta[field] = t;
      },
    });
  }

  flushEvent(key: string, text: string): SseEvent {
    const index = Number(key);
    const tool = this.#blocks.get(index)?.kind === 'tool';
    const delta = tool
      ? { type: 'input_json_delta', partial_json: text }
      : { type: 'text_delta', text };
    return {
      event: 'content_block_delta',
      data: JSON.stringify({ type: 'content_block_delta', index, delta }),
    };
  }

  record(): LlmResponseRecord {
    const blocks = [...this.#blocks.values()];
    const text = blocks
      .filter((b) => b.kind === 'text')
      .map((b) => b.text)
      .join('\n');
    const calls = blocks
      .filter((b) => b.kind === 'tool')
      .map((b) => ({ name: b.name, arguments: b.text }));
    return {
      ...(this.#id ? { id: this.#id } : {}),
      ...(this.#model ? { model: this.#model } : {}),
      choices: [
        {
          index: 0,
          text,
          ...(this.#stop ? { finishReason: this.#stop } : {}),
          ...(calls.length > 0 ? { toolCalls: calls } : {}),
        },
      ],
      usage: {
        inputTokens: this.#input,
        outputTokens: this.#output,
        totalTokens: this.#input + this.#output,
      },
    };
  }
}
