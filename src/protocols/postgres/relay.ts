/**
 * The relay phase of a PostgreSQL session. Client messages are decoded, and every statement
 * (simple Query, extended Execute with its bound parameters, fastpath FunctionCall) becomes a
 * Command that must pass the session pipeline before it is forwarded. Upstream bytes stream back
 * frame by frame; only the frames the tracker needs are decoded.
 */
import { createHash } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { GatewayError, toGatewayError } from '../../errors.ts';
import type { CommandResult, SqlCommand, SqlParam } from '../../session/command.ts';
import type { SessionContext } from '../../session/context.ts';
import type { SessionPipeline, Verdict } from '../../session/pipeline.ts';
import type { Logger } from '../../telemetry/logger.ts';
import { BackendParser } from './codec/backend-parser.ts';
import type { Frame } from './codec/framer.ts';
import { type DecodedFrontend, FrontendParser } from './codec/frontend-parser.ts';
import { BACKEND, type FrontendMessage } from './codec/messages.ts';
import { encodeFrontend, encodeNoticeResponse } from './codec/serializer.ts';
import { encodeGatewayError } from './errors.ts';
import { ChunkWriter } from './masking/chunk-writer.ts';
import type { ResultMasker } from './masking/result-masker.ts';
import { type CommandRun, ResponseTracker } from './tracker.ts';

export interface RelayOptions {
  readonly maxMessageBytes: number;
  readonly maxParamBytes: number;
  /** Masks this session's results; absent when no masking rule applies (frames pass untouched). */
  readonly masker?: ResultMasker | undefined;
}

/** Upstream frames not yet relayed while masking waits for the catalog. */
interface Backlog {
  readonly buf: Uint8Array;
  readonly frames: readonly Frame[];
  readonly complete: number;
  next: number;
  from: number;
}

interface Portal {
  readonly text: string;
  readonly statementName: string;
  readonly params: readonly SqlParam[];
  readonly paramsDigest?: string;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const SYNC = encodeFrontend({ type: 'Sync' });
const TERMINATE = encodeFrontend({ type: 'Terminate' });
const MAX_BACKEND_FRAME = 1024 * 1024 * 1024;
const INBOX_HIGH_WATER = 512;

/**
 * @example
 * const reason = await new Relay(ctx, client, upstream, pipeline, logger, opts).run(leftover);
 */
export class Relay {
  readonly #ctx: SessionContext;
  readonly #client: Duplex;
  readonly #upstream: Duplex;
  readonly #pipeline: SessionPipeline;
  readonly #log: Logger;
  readonly #opts: RelayOptions;
  readonly #fromClient: FrontendParser;
  readonly #fromUpstream = new BackendParser({ maxFrame: MAX_BACKEND_FRAME });
  readonly #tracker: ResponseTracker;
  readonly #statements = new Map<string, string>();
  readonly #portals = new Map<string, Portal>();
  #inbox: DecodedFrontend[] = [];
  #inboxHead = 0;
  #pumping = false;
  #outbox: Uint8Array[] = [];
  /** After a denied extended-protocol statement: the error to send at the next Sync. */
  #discarding: Uint8Array | null = null;
  #closed = false;
  readonly #masker: ResultMasker | undefined;
  #backlog: Backlog[] = [];
  /** Builds each batch's masked output. */
  readonly #chunk = new ChunkWriter();
  /** Upstream frames are held (socket paused) until a column lookup settles. */
  #stalled = false;
  #finish: (reason: string) => void = () => {};
  /** Aborted when the session ends: a held statement's review is cancelled. */
  readonly #abort = new AbortController();
  readonly #hooks = {
    notice: (text: string) => {
      if (this.#client.writable) {
        this.#client.write(encodeNoticeResponse({ S: 'NOTICE', V: 'NOTICE', C: '00000', M: text }));
      }
    },
    signal: this.#abort.signal,
  };

  constructor(
    ctx: SessionContext,
    client: Duplex,
    upstream: Duplex,
    pipeline: SessionPipeline,
    log: Logger,
    opts: RelayOptions,
  ) {
    this.#ctx = ctx;
    this.#client = client;
    this.#upstream = upstream;
    this.#pipeline = pipeline;
    this.#log = log;
    this.#opts = opts;
    this.#fromClient = new FrontendParser({ maxFrame: opts.maxMessageBytes });
    this.#fromClient.expectTyped();
    this.#masker = opts.masker;
    this.#tracker = new ResponseTracker((run, outcome) => this.#completed(run, outcome));
  }

  /** Relays until either side ends; resolves with the close reason. */
  run(): Promise<string> {
    const done = new Promise<string>((resolve) => {
      this.#finish = resolve;
    });
    this.#client.on('data', (chunk: Buffer) => this.#onClientData(chunk));
    this.#upstream.on('data', (chunk: Buffer) => this.#onUpstreamData(chunk));
    this.#client.on('drain', () => {
      if (!this.#stalled) this.#upstream.resume();
    });
    this.#upstream.on('drain', () => this.#maybeResumeClient());
    this.#client.once('close', () => this.close('client closed the connection'));
    this.#upstream.once('close', () => this.#upstreamClosed());
    this.#client.on('error', (err) => this.#log.debug('client socket error', { err }));
    this.#upstream.on('error', (err) => this.#log.debug('upstream socket error', { err }));
    this.#client.resume();
    this.#upstream.resume();
    return done;
  }

  /** Ends the session: optional FATAL to the client, Terminate upstream, close both. */
  close(reason: string, error?: GatewayError): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    if (error && this.#client.writable)
      this.#client.write(encodeGatewayError(error, { fatal: true }));
    if (this.#upstream.writable) this.#upstream.end(TERMINATE);
    this.#client.end();
    setTimeout(() => {
      this.#client.destroy();
      this.#upstream.destroy();
    }, 2000).unref();
    this.#tracker.abortAll();
    this.#finish(reason);
  }

  // ---- client → upstream ----

  #onClientData(chunk: Buffer): void {
    if (this.#closed) return;
    try {
      const msgs = this.#fromClient.push(chunk);
      for (const m of msgs) this.#inbox.push(m);
    } catch (err) {
      const ge = toGatewayError(err, this.#ctx.id);
      this.#log.warn('malformed client message; ending session', {
        session: this.#ctx.id,
        code: ge.code,
      });
      this.close(`protocol error: ${ge.code}`, ge);
      return;
    }
    if (this.#inbox.length - this.#inboxHead > INBOX_HIGH_WATER) this.#client.pause();
    if (!this.#pumping) void this.#pump();
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      while (this.#inboxHead < this.#inbox.length && !this.#closed) {
        const m = this.#inbox[this.#inboxHead++] as DecodedFrontend;
        const msg = m.message as FrontendMessage;
        if (this.#discarding && msg.type !== 'Sync') continue;
        if (msg.type === 'Parse' && this.#parseDenied(msg)) continue;
        if (msg.type === 'Query' || msg.type === 'Execute' || msg.type === 'FunctionCall') {
          // Awaited here rather than in an async helper: one promise hop less per statement.
          const command = this.#commandOf(msg);
          this.#flush();
          const verdict = await this.#pipeline.onCommand(this.#ctx, command, this.#hooks);
          this.#decided(msg, m.raw, command, verdict);
        } else {
          this.#passThrough(msg, m.raw);
        }
      }
      this.#inbox = [];
      this.#inboxHead = 0;
      this.#flush();
      this.#maybeResumeClient();
    } catch (err) {
      const ge = toGatewayError(err, this.#ctx.id);
      this.#log.error('relay failure', { session: this.#ctx.id, err });
      this.close(`internal error: ${ge.code}`, ge);
    } finally {
      this.#pumping = false;
    }
  }

  #maybeResumeClient(): void {
    const backlog = this.#inbox.length - this.#inboxHead;
    if (backlog <= INBOX_HIGH_WATER && this.#upstream.writableLength < 1 << 20)
      this.#client.resume();
  }

  /** Messages that are forwarded without a verdict (they do not run anything by themselves). */
  #passThrough(msg: FrontendMessage, raw: Uint8Array): void {
    switch (msg.type) {
      case 'Parse':
        this.#statements.set(msg.name, msg.sql);
        this.#masker?.parsed(msg.name);
        this.#tracker.expect({ kind: 'parse' });
        break;
      case 'Bind': {
        const portal = this.#portalOf(msg);
        this.#portals.set(msg.portal, portal);
        this.#masker?.bound(msg.portal, msg.statement, msg.resultFormats, portal.text);
        this.#tracker.expect({ kind: 'bind' });
        break;
      }
      case 'Describe':
        this.#tracker.expect({
          kind: 'describe',
          ref: this.#masker?.describe(msg.target, msg.name),
        });
        break;
      case 'Close':
        if (msg.target === 'S') this.#statements.delete(msg.name);
        else this.#portals.delete(msg.name);
        this.#masker?.closed(msg.target, msg.name);
        this.#tracker.expect({ kind: 'close' });
        break;
      case 'Sync':
        this.#tracker.expect({ kind: 'sync', inject: this.#discarding });
        this.#discarding = null;
        break;
      case 'Terminate':
        this.#flush();
        this.close('client terminated the session');
        return;
      case 'PasswordMessage':
        this.close(
          'protocol error',
          new GatewayError('GW_PROTOCOL_UNEXPECTED_MESSAGE', 'unexpected password message'),
        );
        return;
      default:
        break; // Flush, CopyData, CopyDone, CopyFail
    }
    this.#outbox.push(raw);
  }

  /**
   * A prepared statement is judged at Parse too (its Execute is judged again with parameters):
   * a denied one is not forwarded, and everything up to Sync is discarded, as the server does.
   */
  #parseDenied(msg: Extract<FrontendMessage, { type: 'Parse' }>): boolean {
    const error = this.#pipeline.checkParse(this.#ctx, {
      kind: 'sql',
      protocol: 'extended',
      text: msg.sql,
      params: null,
      statementName: msg.name,
    });
    if (!error) return false;
    this.#discarding = encodeGatewayError(error, { fatal: false });
    return true;
  }

  /** A statement the pipeline has judged (and the ledger recorded): forwarded or refused. */
  #decided(msg: FrontendMessage, raw: Uint8Array, command: SqlCommand, verdict: Verdict): void {
    if (this.#closed) return;
    if (verdict.action === 'deny') {
      this.#deny(msg, verdict.error);
      return;
    }
    const run: CommandRun = {
      commandId: verdict.commandId,
      startedAt: performance.now(),
      tags: [],
      rows: 0,
      bytes: 0,
      error: undefined,
    };
    if (this.#masker && msg.type === 'FunctionCall') {
      this.#refuseFastpath(msg, run);
      return;
    }
    if (msg.type === 'Execute') this.#expectExecute(msg.portal, command.text, run);
    else this.#tracker.expect({ kind: 'query', run, ref: this.#masker?.query(command.text) });
    this.#outbox.push(raw);
    this.#flush();
  }

  /** With masking, an Execute whose columns nobody asked about is described first, by us. */
  #expectExecute(portal: string, text: string, run: CommandRun): void {
    const m = this.#masker?.execute(portal, text);
    if (m?.describeFirst && this.#masker) {
      this.#tracker.expect({ kind: 'describe', ref: this.#masker.internalDescribe(m.ref) });
      this.#outbox.push(encodeFrontend({ type: 'Describe', target: 'P', name: portal }));
    }
    this.#tracker.expect({ kind: 'execute', run, ref: m?.ref });
  }

  /** A fastpath result is an untyped value masking cannot inspect: refused on masked sessions. */
  #refuseFastpath(msg: FrontendMessage, run: CommandRun): void {
    const error = new GatewayError(
      'GW_MASKING_FAILED',
      'fastpath function calls are not available on a connection with masking rules',
    );
    run.error = { code: error.code, message: error.clientMessage };
    this.#completed(run, 'error');
    this.#deny(msg, error);
  }

  /**
   * A denied simple Query becomes a Sync upstream, so the upstream answers ReadyForQuery with the
   * real transaction status and our ErrorResponse goes out just before it. A denied Execute makes
   * us discard until Sync, like the server itself does after an error.
   */
  #deny(msg: FrontendMessage, error: GatewayError): void {
    const bytes = encodeGatewayError(error, { fatal: false });
    if (msg.type === 'Execute') {
      this.#discarding = bytes;
      return;
    }
    this.#tracker.expect({ kind: 'sync', inject: bytes });
    this.#outbox.push(SYNC);
    this.#flush();
  }

  #flush(): void {
    const out = this.#outbox;
    if (out.length === 0) return;
    this.#outbox = [];
    const ok =
      out.length === 1
        ? this.#upstream.write(out[0] as Uint8Array)
        : this.#upstream.write(Buffer.concat(out));
    if (!ok) this.#client.pause();
  }

  #commandOf(msg: FrontendMessage): SqlCommand {
    if (msg.type === 'Query') {
      return { kind: 'sql', protocol: 'simple', text: msg.sql, params: null };
    }
    if (msg.type === 'Execute') {
      const portal = this.#portals.get(msg.portal);
      return {
        kind: 'sql',
        protocol: 'extended',
        text: portal ? portal.text : `-- unknown portal "${msg.portal}"`,
        params: portal?.params ?? [],
        statementName: portal?.statementName ?? '',
        portal: msg.portal,
        ...(portal?.paramsDigest ? { paramsDigest: portal.paramsDigest } : {}),
      };
    }
    return { kind: 'sql', protocol: 'fastpath', text: '-- fastpath function call', params: null };
  }

  #portalOf(msg: Extract<FrontendMessage, { type: 'Bind' }>): Portal {
    const text =
      this.#statements.get(msg.statement) ??
      `EXECUTE ${JSON.stringify(msg.statement)} -- prepared elsewhere`;
    const params = msg.params.map((v, i) => this.#param(v, msg.paramFormats, i));
    // Recorded values are capped; when one was, a digest of the full values binds reviews to them.
    if (!params.some((p) => p.truncated)) return { text, statementName: msg.statement, params };
    const h = createHash('sha256');
    for (const v of msg.params) {
      h.update(v === null ? 'N' : `${v.length}:`);
      if (v !== null) h.update(v);
    }
    return { text, statementName: msg.statement, params, paramsDigest: h.digest('hex') };
  }

  #param(v: Uint8Array | null, formats: readonly number[], i: number): SqlParam {
    const binary = (formats.length === 1 ? formats[0] : formats[i]) === 1;
    const format = binary ? 'binary' : 'text';
    if (v === null) return { format, value: null, bytes: 0 };
    const max = this.#opts.maxParamBytes;
    const cut = v.length > max ? v.subarray(0, max) : v;
    const value = binary ? Buffer.from(cut).toString('base64') : Buffer.from(cut).toString('utf8');
    return v.length > max
      ? { format, value, bytes: v.length, truncated: true }
      : { format, value, bytes: v.length };
  }

  #completed(run: CommandRun, outcome: 'ok' | 'error' | 'skipped' | 'aborted' | 'suspended'): void {
    if (run.masked && !run.masked.empty && this.#masker) {
      this.#pipeline.onMasked(this.#ctx, run.commandId, run.masked.toEvent(this.#masker.version));
      run.masked = undefined;
    }
    const result: Mutable<CommandResult> = {
      outcome,
      tags: run.tags,
      rows: run.rows,
      bytes: run.bytes,
      durationMs: Math.round((performance.now() - run.startedAt) * 1000) / 1000,
    };
    if (run.error) result.error = run.error;
    this.#pipeline.onResult(this.#ctx, run.commandId, result);
  }

  // ---- upstream → client ----

  #onUpstreamData(chunk: Buffer): void {
    if (this.#closed) return;
    let batch: ReturnType<BackendParser['push']>;
    try {
      batch = this.#fromUpstream.push(chunk);
    } catch (err) {
      this.#log.error('malformed upstream message', { session: this.#ctx.id, err });
      this.close(
        'upstream protocol error',
        new GatewayError('GW_UPSTREAM_CLOSED', 'the database sent a malformed message'),
      );
      return;
    }
    if (this.#masker) {
      this.#backlog.push({ ...batch, next: 0, from: 0 });
      if (!this.#stalled) this.#drainBacklog();
      return;
    }
    const { buf, frames, complete } = batch;
    let from = 0;
    let parts: Uint8Array[] | undefined;
    for (const f of frames) {
      const inject = this.#tracker.onFrame(buf, f);
      if (inject) {
        parts ??= [];
        parts.push(buf.subarray(from, f.start), inject);
        from = f.start;
      }
    }
    if (complete === 0) return;
    let out: Uint8Array;
    if (parts) {
      parts.push(buf.subarray(from, complete));
      out = Buffer.concat(parts);
    } else {
      // Usually the whole chunk: written as it came, without a view.
      out = complete === buf.length ? buf : buf.subarray(0, complete);
    }
    if (!this.#client.write(out)) this.#upstream.pause();
  }

  #drainBacklog(): void {
    while (this.#backlog.length > 0 && !this.#stalled && !this.#closed) {
      if (!this.#relayMasked(this.#backlog[0] as Backlog)) return;
      this.#backlog.shift();
    }
  }

  /**
   * Relays one batch through the masker; false when it stalled or failed part-way. The output
   * is built in one buffer: masked rows are written straight into it, unchanged frames copied
   * from the batch (a batch with nothing masked goes out as it is).
   */
  #relayMasked(item: Backlog): boolean {
    const masker = this.#masker as ResultMasker;
    const { buf, frames } = item;
    const out = this.#chunk;
    out.begin(buf, item.from);
    for (; item.next < frames.length; item.next++) {
      const f = frames[item.next] as Frame;
      const act = masker.onFrame(this.#tracker.head, buf, f, out);
      if (act?.kind === 'stall' || act?.kind === 'fail') {
        this.#toClient(out.finish(f.start));
        item.from = f.start;
        if (act.kind === 'stall') this.#stall(act.until);
        else this.#maskingFailed(act.error);
        return false;
      }
      const replaced = act?.kind === 'replace' ? act.bytes : undefined;
      // The tracker records the masked error text, never the original. It injects nothing
      // before a DataRow, the only frame the masker writes itself ('written').
      const inject =
        replaced && f.code === BACKEND.ErrorResponse
          ? this.#tracker.onFrame(replaced, {
              code: f.code,
              start: 0,
              end: replaced.length,
              body: 5,
            })
          : this.#tracker.onFrame(buf, f);
      if (inject) out.insert(f.start, inject);
      if (replaced) {
        out.insert(f.start, replaced);
        out.skip(f.end);
      }
    }
    item.from = item.complete;
    this.#toClient(out.finish(item.complete));
    return true;
  }

  #toClient(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (!this.#client.write(bytes)) this.#upstream.pause();
  }

  /** Holds every upstream frame until the lookup settles (it always does, by its deadline). */
  #stall(until: Promise<void>): void {
    this.#stalled = true;
    this.#upstream.pause();
    void until.then(() => {
      this.#stalled = false;
      if (this.#closed) return;
      this.#drainBacklog();
      if (!this.#stalled && !this.#closed && !this.#client.writableNeedDrain)
        this.#upstream.resume();
    });
  }

  /**
   * A value could not be masked and its rule says fail. Mid-result there is no way to take back
   * the rows already sent or to skip the rest of a multi-statement query, so the session ends
   * with a FATAL GW_MASKING_FAILED in place of the rest of the result.
   */
  #maskingFailed(error: GatewayError): void {
    this.#log.warn('masking failed; ending the session', {
      session: this.#ctx.id,
      code: error.code,
    });
    this.close('masking failed', error);
  }

  #upstreamClosed(): void {
    if (this.#closed) return;
    this.close(
      'upstream closed the connection',
      new GatewayError('GW_UPSTREAM_CLOSED', 'the database closed the connection'),
    );
  }
}
