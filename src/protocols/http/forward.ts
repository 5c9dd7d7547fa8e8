/**
 * Forwarding one allowed request: the body prepared (usage asked for, prompt masked), the
 * upstream called with the brokered credential, and the response relayed — streamed LLM
 * responses event by event, whole JSON and text bodies masked, anything else piped — then the
 * outcome recorded (`llm.responded` / `command.completed`, `data.masked`) and the budget settled.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { GatewayError, toGatewayError } from '../../errors.ts';
import type { CommandResult } from '../../session/command.ts';
import type { SessionContext } from '../../session/context.ts';
import type { SessionPipeline, Verdict } from '../../session/pipeline.ts';
import type { Logger } from '../../telemetry/logger.ts';
import type { LlmDialect, LlmRequest, LlmResponseRecord } from '../llm/types.ts';
import type { BodyMasker } from './body-masker.ts';
import { sendError } from './errors.ts';
import { clientHeaders } from './headers.ts';
import { LlmStreamTransform } from './llm-stream.ts';
import { isTextual, recordedBody } from './request-command.ts';
import type { HttpTarget } from './router.ts';
import type { Upstreams } from './upstream.ts';

export interface Forwarding {
  readonly ctx: SessionContext;
  readonly conn: HttpTarget;
  readonly verdict: Extract<Verdict, { action: 'allow' }>;
  readonly method: string;
  readonly upstreamPath: string;
  readonly headers: OutgoingHttpHeaders;
  readonly body: Buffer;
  readonly llm?: {
    readonly dialect: LlmDialect;
    readonly request: LlmRequest;
    readonly json: Record<string, unknown>;
  };
  readonly masker: BodyMasker | null;
  readonly res: ServerResponse;
  readonly signal: AbortSignal;
  readonly startedAt: number;
}

export interface ForwardDeps {
  readonly pipeline: SessionPipeline;
  readonly upstreams: Upstreams;
  readonly logger: Logger;
  readonly clock: () => number;
  readonly maxBodyBytes: number;
  readonly recordBytes: number;
}

interface Outcome {
  outcome: CommandResult['outcome'];
  status: number;
  bytes: number;
  body?: string | undefined;
  llm?: LlmResponseRecord;
  error?: GatewayError;
}

/**
 * @example
 * await forward(deps, { ctx, conn, verdict, method, upstreamPath, headers, body, masker, res, signal, startedAt });
 */
export async function forward(deps: ForwardDeps, f: Forwarding): Promise<void> {
  const out: Outcome = { outcome: 'ok', status: 0, bytes: 0 };
  let clientWantsUsage = true;
  try {
    const prepared = prepareBody(f);
    clientWantsUsage = prepared.clientWantsUsage;
    const up = await deps.upstreams.request(f.conn, {
      method: f.method,
      path: f.upstreamPath,
      headers: f.headers,
      body: prepared.body,
      signal: f.signal,
    });
    out.status = up.statusCode ?? 502;
    await relay(deps, f, up, out, !clientWantsUsage);
  } catch (err) {
    const ge = toGatewayError(err, f.ctx.id);
    out.outcome = f.signal.aborted ? 'aborted' : 'error';
    out.error = ge;
    if (ge.kind === 'internal')
      deps.logger.error('http forward failed', { session: f.ctx.id, err });
    if (!f.res.headersSent) writeError(f, ge);
    else if (!f.res.writableEnded) f.res.destroy();
    out.status ||= f.res.statusCode;
  } finally {
    finish(deps, f, out);
  }
}

/** The body as it goes upstream: usage requested in streams, prompt (or text body) masked. */
function prepareBody(f: Forwarding): { body: Buffer; clientWantsUsage: boolean } {
  if (f.llm) {
    const { changed, clientWantsUsage } = f.llm.dialect.prepare(f.llm.request, f.llm.json);
    const text = changed ? JSON.stringify(f.llm.json) : f.body.toString('utf8');
    const masked = f.masker?.json(text) ?? null;
    const body = masked !== null ? Buffer.from(masked) : changed ? Buffer.from(text) : f.body;
    return { body, clientWantsUsage };
  }
  const type = String(f.headers['content-type'] ?? '');
  if (!f.masker || f.body.length === 0 || !isTextual(type))
    return { body: f.body, clientWantsUsage: true };
  const text = f.body.toString('utf8');
  const masked = /json/i.test(type) ? f.masker.json(text) : f.masker.text(text);
  return { body: masked === null ? f.body : Buffer.from(masked), clientWantsUsage: true };
}

async function relay(
  deps: ForwardDeps,
  f: Forwarding,
  up: IncomingMessage,
  out: Outcome,
  dropUsageOnly: boolean,
): Promise<void> {
  const headers = clientHeaders(up.headers);
  headers['x-airlock-event-id'] = f.verdict.commandId;
  const body = decoded(up, headers);
  const type = String(up.headers['content-type'] ?? '');
  if (f.llm && /^text\/event-stream/i.test(type) && out.status < 300) {
    await relayStream(f, body, headers, out, dropUsageOnly);
    return;
  }
  const whole = f.llm !== undefined || (f.masker !== null && isTextual(type));
  if (!whole && f.masker !== null && up.statusCode !== 204 && f.method !== 'HEAD') {
    up.destroy();
    throw new GatewayError(
      'GW_MASKING_FAILED',
      `masking rules apply and a ${type || 'binary'} response cannot be inspected; it was not delivered`,
    );
  }
  if (whole) await relayWhole(deps, f, body, headers, type, out);
  else await relayPipe(deps, f, body, headers, type, out);
}

/** A streamed LLM response, event by event (held back and masked on a masked session). */
async function relayStream(
  f: Forwarding,
  body: Readable,
  headers: OutgoingHttpHeaders,
  out: Outcome,
  dropUsageOnly: boolean,
): Promise<void> {
  const llm = f.llm as NonNullable<Forwarding['llm']>;
  const t = new LlmStreamTransform({
    state: llm.dialect.newStream(llm.request, { dropUsageOnly }),
    masker: f.masker,
    rewrite: dropUsageOnly,
  });
  f.res.writeHead(out.status, headers);
  f.res.flushHeaders();
  try {
    for await (const chunk of body) {
      const piece = t.push(chunk as Buffer);
      if (piece.length > 0 && !write(f.res, piece, out)) await drained(f.res);
    }
    const rest = t.end();
    if (rest.length > 0) write(f.res, rest, out);
  } catch (err) {
    const ge = toGatewayError(err, f.ctx.id);
    // The response has started: end the stream with an error event the SDK reports.
    const data = JSON.stringify(llm.dialect.errorBody(ge.clientMessage, 'api_error', ge.code));
    if (!f.res.destroyed)
      f.res.end(`${llm.dialect.name === 'anthropic' ? 'event: error\n' : ''}data: ${data}\n\n`);
    out.llm = t.record();
    throw ge;
  }
  f.res.end();
  out.llm = t.record();
}

/** A whole body: read (bounded), recorded, masked, sent with its new length. */
async function relayWhole(
  deps: ForwardDeps,
  f: Forwarding,
  body: Readable,
  headers: OutgoingHttpHeaders,
  type: string,
  out: Outcome,
): Promise<void> {
  const raw = await readAll(body, deps.maxBodyBytes, f.masker !== null);
  let text = raw.toString('utf8');
  if (f.llm && /json/i.test(type)) {
    try {
      out.llm = f.llm.dialect.parseResponse(f.llm.request, JSON.parse(text));
    } catch {
      out.body = recordedBody(raw, type, deps.recordBytes);
    }
  } else {
    out.body = recordedBody(raw, type, deps.recordBytes);
  }
  if (out.status >= 400) out.outcome = 'error';
  let payload: Buffer = raw;
  if (f.masker && isTextual(type)) {
    const masked = /json/i.test(type) ? f.masker.json(text) : f.masker.text(text);
    if (masked !== null) {
      text = masked;
      payload = Buffer.from(masked);
    }
  }
  headers['content-length'] = payload.length;
  f.res.writeHead(out.status, headers);
  out.bytes = payload.length;
  f.res.end(payload);
}

/** Anything else: piped through, the first bytes kept for the ledger. */
async function relayPipe(
  deps: ForwardDeps,
  f: Forwarding,
  body: Readable,
  headers: OutgoingHttpHeaders,
  type: string,
  out: Outcome,
): Promise<void> {
  const kept: Buffer[] = [];
  let keptBytes = 0;
  if (out.status >= 400) out.outcome = 'error';
  f.res.writeHead(out.status, headers);
  for await (const chunk of body) {
    const b = chunk as Buffer;
    if (keptBytes < deps.recordBytes) {
      kept.push(b.subarray(0, deps.recordBytes - keptBytes));
      keptBytes += Math.min(b.length, deps.recordBytes - keptBytes);
    }
    if (!write(f.res, b, out)) await drained(f.res);
  }
  f.res.end();
  out.body = recordedBody(Buffer.concat(kept), type, deps.recordBytes);
}

function write(res: ServerResponse, piece: Buffer | string, out: Outcome): boolean {
  out.bytes += typeof piece === 'string' ? Buffer.byteLength(piece) : piece.length;
  return res.write(piece);
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
  });
}

/** The upstream body decompressed when it came encoded anyway (we asked for identity). */
function decoded(up: IncomingMessage, headers: OutgoingHttpHeaders): Readable {
  const enc = String(up.headers['content-encoding'] ?? 'identity').toLowerCase();
  const decoder =
    enc === 'gzip' || enc === 'x-gzip'
      ? createGunzip()
      : enc === 'deflate'
        ? createInflate()
        : enc === 'br'
          ? createBrotliDecompress()
          : undefined;
  if (!decoder) return up;
  delete headers['content-encoding'];
  delete headers['content-length'];
  up.on('error', (err) => decoder.destroy(err));
  return up.pipe(decoder);
}

async function readAll(body: Readable, max: number, masked: boolean): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > max) {
      body.destroy();
      throw new GatewayError(
        masked ? 'GW_MASKING_FAILED' : 'GW_UPSTREAM_MALFORMED',
        `the upstream's response is larger than http.max_body_bytes (${max}); it was not delivered`,
      );
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function writeError(f: Forwarding, ge: GatewayError): void {
  sendError(f.res, ge, f.llm?.dialect);
}

/** The closing records and the budget settlement; never throws. */
function finish(deps: ForwardDeps, f: Forwarding, out: Outcome): void {
  const usage = out.llm?.usage;
  const estimated = f.llm ? f.llm.request.promptTokens + outputEstimate(out.llm) : 0;
  const used =
    usage?.totalTokens ??
    (out.outcome === 'aborted' ? (f.verdict.reservation?.tokens ?? 0) : estimated);
  f.verdict.reservation?.settle(out.outcome === 'error' && out.status === 0 ? 0 : used);
  const masked = f.masker?.event();
  if (masked) deps.pipeline.onMasked(f.ctx, f.verdict.commandId, masked);
  const result: CommandResult = {
    outcome: out.outcome,
    tags: [],
    rows: 0,
    bytes: out.bytes,
    durationMs: deps.clock() - f.startedAt,
    status: out.status,
    ...(out.body !== undefined ? { body: out.body } : {}),
    ...(out.llm ? { llm: { ...out.llm, ...(usage ? {} : { usageEstimated: used }) } } : {}),
    ...(out.error ? { error: { code: out.error.code, message: out.error.clientMessage } } : {}),
  };
  deps.pipeline.onResult(f.ctx, f.verdict.commandId, result);
}

function outputEstimate(r: LlmResponseRecord | undefined): number {
  if (!r) return 0;
  let chars = 0;
  for (const c of r.choices)
    chars += c.text.length + (c.toolCalls ?? []).reduce((n, t) => n + t.arguments.length, 0);
  return Math.ceil(chars / 3);
}
