/**
 * What Airlock reads from an LLM API call, whatever the dialect: the request (model, prompt,
 * tools, limits) and the response (text, tool calls, usage), plus what the ledger keeps of each.
 */
import type { SseEvent } from './sse.ts';

export type LlmOperation = 'chat' | 'completion' | 'embedding' | 'response' | 'message';

/** A request the dialect understood. */
export interface LlmRequest {
  readonly operation: LlmOperation;
  readonly model: string;
  readonly stream: boolean;
  /** All prompt text (system, messages, tool results, input), for policy and detectors. */
  readonly prompt: string;
  /** `max_tokens` (or the operation's equivalent) when the client set one. */
  readonly maxOutputTokens: number | undefined;
  /** A generous estimate of the prompt's tokens (for budget reservations). */
  readonly promptTokens: number;
  /** What the ledger keeps: messages or input, tool names, parameters. Redacted by the pipeline. */
  readonly record: Readonly<Record<string, unknown>>;
}

export interface LlmUsage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly totalTokens: number;
}

/** What the ledger keeps of a response: per choice text and tool calls, usage. */
export interface LlmResponseRecord {
  readonly id?: string;
  readonly model?: string;
  readonly choices: readonly {
    readonly index: number;
    readonly text: string;
    readonly finishReason?: string;
    readonly toolCalls?: readonly { readonly name: string; readonly arguments: string }[];
  }[];
  readonly usage?: LlmUsage;
  /** For embeddings: how many vectors came back (never the vectors). */
  readonly embeddings?: number;
}

/** One piece of streamed text inside an event: read it, replace it (masked). */
export interface TextSlot {
  /** Names the text stream the piece belongs to, e.g. `0:content`, `0:tool:1`. */
  readonly key: string;
  readonly text: string;
  set(text: string): void;
}

/** A parsed stream event, as a dialect sees it. */
export interface StreamStep {
  /** Streamed text pieces in this event (their JSON is re-encoded when a slot changes). */
  readonly slots: readonly TextSlot[];
  /** Text streams that end with this event: their held text goes out just before it. */
  readonly ends: readonly string[];
  /** Whole strings this event carries (e.g. a `.done` event's full text): masked as a whole. */
  readonly whole: boolean;
  /** Drop the event (a usage-only chunk Airlock asked for and the client did not). */
  readonly drop: boolean;
  /** The event re-encoded from its (possibly changed) JSON. */
  encode(): SseEvent;
}

/** Follows one streamed response: parses events, accumulates the record, builds flush events. */
export interface StreamState {
  /** Parses an event; undefined for an event that is not JSON (`[DONE]`, a comment). */
  step(ev: SseEvent): StreamStep | undefined;
  /** An event that carries `text` for stream `key` (held text released at its end). */
  flushEvent(key: string, text: string): SseEvent;
  /** The response as recorded, from the text as it arrived. */
  record(): LlmResponseRecord;
}

export interface LlmDialect {
  readonly name: 'openai' | 'anthropic';
  /** The path prefix the SDK's default base URL adds (`/v1` for OpenAI, none for Anthropic). */
  readonly sdkBasePath: string;
  /** Whether `POST path` is one of the dialect's LLM operations (its body must be JSON). */
  isOperation(path: string): boolean;
  /** The request of `POST path` with a JSON body, or undefined when it is no LLM operation. */
  parseRequest(path: string, body: unknown): LlmRequest | undefined;
  /**
   * Changes the request before it goes upstream: e.g. asks for usage in streams. Returns true
   * when the body changed, and whether the client wanted the usage chunk itself.
   */
  prepare(
    req: LlmRequest,
    body: Record<string, unknown>,
  ): { changed: boolean; clientWantsUsage: boolean };
  /** The record of a whole (non-streamed) JSON response. */
  parseResponse(req: LlmRequest, body: unknown): LlmResponseRecord;
  newStream(req: LlmRequest, opts: { dropUsageOnly: boolean }): StreamState;
  /** An error body the dialect's SDKs display. */
  errorBody(message: string, type: string, code: string): Record<string, unknown>;
}
