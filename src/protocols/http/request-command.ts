/**
 * An HTTP request as a protocol-neutral command: method, path, host, a one-line summary, a digest
 * of the body (reviews bind to it), what the ledger keeps of the body, and for LLM calls what the
 * dialect read (model, prompt, tools) with the detector types found in the prompt.
 */
import { createHash } from 'node:crypto';
import type { DetectorSet } from '../../masking/detectors/types.ts';
import type { HttpCommand, LlmCommandInfo } from '../../session/command.ts';
import type { LlmDialect, LlmRequest } from '../llm/types.ts';

export interface CommandInput {
  readonly method: string;
  readonly upstreamPath: string;
  readonly path: string;
  readonly host: string;
  readonly body: Buffer;
  readonly contentType: string;
  readonly recordBytes: number;
  readonly causedBy: string | undefined;
  readonly llm?: {
    readonly dialect: LlmDialect;
    readonly request: LlmRequest;
    readonly detectors: DetectorSet;
    readonly defaultMaxTokens: number;
  };
}

const EXCERPT = 160;

/**
 * @example
 * const command = httpCommand({ method: 'GET', upstreamPath: '/users?x=1', path: '/users', ... });
 */
export function httpCommand(input: CommandInput): HttpCommand {
  const llm = input.llm ? llmInfo(input.llm, input.recordBytes) : undefined;
  const text = llm
    ? `${input.method} ${input.path} model=${llm.model}${excerpt(input.llm?.request.prompt ?? '')}`
    : `${input.method} ${input.upstreamPath}`;
  const body = !llm ? recordedBody(input.body, input.contentType, input.recordBytes) : undefined;
  return {
    kind: 'http',
    method: input.method,
    url: input.upstreamPath,
    path: input.path,
    host: input.host,
    text,
    params: null,
    paramsDigest: createHash('sha256').update(input.body).digest('hex'),
    bodyBytes: input.body.length,
    ...(body !== undefined ? { body } : {}),
    ...(llm ? { llm } : {}),
    ...(input.causedBy ? { causedBy: input.causedBy } : {}),
  };
}

function llmInfo(l: NonNullable<CommandInput['llm']>, recordBytes: number): LlmCommandInfo {
  const r = l.request;
  const findings = [...new Set(l.detectors.scan(r.prompt).map((f) => f.type))];
  return {
    dialect: l.dialect.name,
    operation: r.operation,
    model: r.model,
    stream: r.stream,
    prompt: r.prompt,
    findings,
    reserveTokens: r.promptTokens + (r.maxOutputTokens ?? l.defaultMaxTokens),
    record: clipDeep(r.record, recordBytes) as Record<string, unknown>,
  };
}

function excerpt(prompt: string): string {
  const last =
    prompt
      .trim()
      .split('\n')
      .filter((l) => l.trim() !== '')
      .pop() ?? '';
  if (last === '') return '';
  return `: ${last.length > EXCERPT ? `${last.slice(0, EXCERPT)}…` : last}`;
}

const TEXTUAL =
  /^(?:text\/|application\/(?:[\w.+-]*\+)?(?:json|xml|x-www-form-urlencoded|x-ndjson|graphql))/i;

/** Whether a content type is text Airlock can read (and mask). */
export function isTextual(contentType: string): boolean {
  return TEXTUAL.test(contentType.trim());
}

/** The body as the ledger keeps it: textual bodies clipped, binary ones not at all. */
export function recordedBody(body: Buffer, contentType: string, max: number): string | undefined {
  if (body.length === 0 || max === 0) return undefined;
  if (!isTextual(contentType)) return `[${body.length} bytes of ${contentType || 'unknown type'}]`;
  return clip(body.subarray(0, max + 4).toString('utf8'), max, body.length);
}

function clip(s: string, max: number, total = s.length): string {
  return s.length <= max ? s : `${s.slice(0, max)}… [truncated, ${total} in all]`;
}

/** Every string in a JSON-like value clipped to `max` characters. */
export function clipDeep(v: unknown, max: number, depth = 0): unknown {
  if (typeof v === 'string') return clip(v, max);
  if (depth > 8 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => clipDeep(x, max, depth + 1));
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clipDeep(x, max, depth + 1)]));
}
