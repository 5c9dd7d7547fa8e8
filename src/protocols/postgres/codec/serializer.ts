/**
 * Encoding of PostgreSQL messages, both directions. Every function returns one complete message.
 * https://www.postgresql.org/docs/current/protocol-message-formats.html
 */
import {
  AUTH,
  BACKEND,
  CANCEL_REQUEST_CODE,
  type FieldDescription,
  FRONTEND,
  type FrontendMessage,
  type NoticeFields,
  PROTOCOL_3_0,
  SSL_REQUEST_CODE,
  type StartupPhaseMessage,
} from './messages.ts';

const encoder = new TextEncoder();

/** Growable message writer; `finish(type)` patches the length. */
export class Writer {
  #buf: Uint8Array;
  #view: DataView;
  #pos: number;
  readonly #typed: boolean;

  constructor(typed = true, size = 64) {
    this.#buf = new Uint8Array(size);
    this.#view = new DataView(this.#buf.buffer);
    this.#typed = typed;
    this.#pos = typed ? 5 : 4;
  }

  #ensure(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.#pos + n));
    next.set(this.#buf.subarray(0, this.#pos));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  byte(v: number): this {
    this.#ensure(1);
    this.#buf[this.#pos++] = v;
    return this;
  }

  int16(v: number): this {
    this.#ensure(2);
    this.#view.setInt16(this.#pos, v);
    this.#pos += 2;
    return this;
  }

  int32(v: number): this {
    this.#ensure(4);
    this.#view.setInt32(this.#pos, v);
    this.#pos += 4;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.#ensure(b.length);
    this.#buf.set(b, this.#pos);
    this.#pos += b.length;
    return this;
  }

  /** `Int16 n` then each value as `Int32 len` + bytes, or -1 for NULL (Bind, DataRow). */
  nullableValues(values: readonly (Uint8Array | null)[]): this {
    this.int16(values.length);
    for (const v of values) v === null ? this.int32(-1) : this.int32(v.length).bytes(v);
    return this;
  }

  cstring(s: string): this {
    return this.bytes(encoder.encode(s)).byte(0);
  }

  /** Completes the message: writes the type byte (typed messages) and the length. */
  finish(type?: number): Uint8Array {
    if (this.#typed) {
      this.#buf[0] = type ?? 0;
      this.#view.setInt32(1, this.#pos - 1);
    } else {
      this.#view.setInt32(0, this.#pos);
    }
    return this.#buf.subarray(0, this.#pos);
  }
}

const fixed = (type: number): Uint8Array => new Writer().finish(type);

// ---- backend messages (gateway → client) ----

export const encodeAuthenticationOk = (): Uint8Array =>
  new Writer().int32(AUTH.Ok).finish(BACKEND.Authentication);
export const encodeAuthenticationCleartextPassword = (): Uint8Array =>
  new Writer().int32(AUTH.CleartextPassword).finish(BACKEND.Authentication);

export function encodeAuthenticationSASL(mechanisms: readonly string[]): Uint8Array {
  const w = new Writer().int32(AUTH.SASL);
  for (const m of mechanisms) w.cstring(m);
  return w.byte(0).finish(BACKEND.Authentication);
}

export const encodeAuthenticationSASLContinue = (data: Uint8Array): Uint8Array =>
  new Writer().int32(AUTH.SASLContinue).bytes(data).finish(BACKEND.Authentication);
export const encodeAuthenticationSASLFinal = (data: Uint8Array): Uint8Array =>
  new Writer().int32(AUTH.SASLFinal).bytes(data).finish(BACKEND.Authentication);

export const encodeParameterStatus = (name: string, value: string): Uint8Array =>
  new Writer().cstring(name).cstring(value).finish(BACKEND.ParameterStatus);

export const encodeBackendKeyData = (processId: number, secretKey: Uint8Array): Uint8Array =>
  new Writer().int32(processId).bytes(secretKey).finish(BACKEND.BackendKeyData);

export const encodeReadyForQuery = (status: 'I' | 'T' | 'E'): Uint8Array =>
  new Writer().byte(status.charCodeAt(0)).finish(BACKEND.ReadyForQuery);

export const encodeCommandComplete = (tag: string): Uint8Array =>
  new Writer().cstring(tag).finish(BACKEND.CommandComplete);

function encodeFields(fields: NoticeFields, type: number): Uint8Array {
  const w = new Writer();
  for (const [code, value] of Object.entries(fields)) w.byte(code.charCodeAt(0)).cstring(value);
  return w.byte(0).finish(type);
}

export const encodeErrorResponse = (fields: NoticeFields): Uint8Array =>
  encodeFields(fields, BACKEND.ErrorResponse);
export const encodeNoticeResponse = (fields: NoticeFields): Uint8Array =>
  encodeFields(fields, BACKEND.NoticeResponse);

export function encodeRowDescription(fields: readonly FieldDescription[]): Uint8Array {
  const w = new Writer().int16(fields.length);
  for (const f of fields) {
    w.cstring(f.name).int32(f.tableOid).int16(f.columnAttr).int32(f.typeOid);
    w.int16(f.typeSize).int32(f.typeModifier).int16(f.format);
  }
  return w.finish(BACKEND.RowDescription);
}

export function encodeDataRow(values: readonly (Uint8Array | null)[]): Uint8Array {
  const w = new Writer(true, 16 + values.reduce((n, v) => n + 4 + (v?.length ?? 0), 0));
  w.int16(values.length);
  for (const v of values) v === null ? w.int32(-1) : w.int32(v.length).bytes(v);
  return w.finish(BACKEND.DataRow);
}

export const encodeEmptyQueryResponse = (): Uint8Array => fixed(BACKEND.EmptyQueryResponse);
export const encodeParseComplete = (): Uint8Array => fixed(BACKEND.ParseComplete);
export const encodeBindComplete = (): Uint8Array => fixed(BACKEND.BindComplete);
export const encodeNoData = (): Uint8Array => fixed(BACKEND.NoData);

/** A generic backend message from its type byte and payload (used by tests and fake servers). */
export const encodeBackendRaw = (type: number, payload: Uint8Array): Uint8Array =>
  new Writer().bytes(payload).finish(type);

// ---- frontend messages (gateway → upstream, and clients in tests) ----

export function encodeStartup(message: StartupPhaseMessage): Uint8Array {
  const w = new Writer(false);
  switch (message.type) {
    case 'SSLRequest':
      return w.int32(SSL_REQUEST_CODE).finish();
    case 'GSSENCRequest':
      return w.int32(80877104).finish();
    case 'CancelRequest':
      return w
        .int32(CANCEL_REQUEST_CODE)
        .int32(message.processId)
        .bytes(message.secretKey)
        .finish();
    case 'StartupMessage':
      w.int32(message.protocolVersion || PROTOCOL_3_0);
      for (const [k, v] of Object.entries(message.parameters)) w.cstring(k).cstring(v);
      return w.byte(0).finish();
  }
}

/** Encodes any frontend message; `encodeFrontend(decodeFrontend(x))` round-trips. */
export function encodeFrontend(m: FrontendMessage): Uint8Array {
  const w = new Writer();
  switch (m.type) {
    case 'Query':
      return w.cstring(m.sql).finish(FRONTEND.Query);
    case 'Parse':
      w.cstring(m.name).cstring(m.sql).int16(m.paramTypes.length);
      for (const t of m.paramTypes) w.int32(t);
      return w.finish(FRONTEND.Parse);
    case 'Bind':
      return encodeBind(w, m);
    case 'Describe':
      return w.byte(m.target.charCodeAt(0)).cstring(m.name).finish(FRONTEND.Describe);
    case 'Close':
      return w.byte(m.target.charCodeAt(0)).cstring(m.name).finish(FRONTEND.Close);
    case 'Execute':
      return w.cstring(m.portal).int32(m.maxRows).finish(FRONTEND.Execute);
    case 'Sync':
      return w.finish(FRONTEND.Sync);
    case 'Flush':
      return w.finish(FRONTEND.Flush);
    case 'Terminate':
      return w.finish(FRONTEND.Terminate);
    case 'CopyData':
      return w.bytes(m.data).finish(FRONTEND.CopyData);
    case 'CopyDone':
      return w.finish(FRONTEND.CopyDone);
    case 'CopyFail':
      return w.cstring(m.message).finish(FRONTEND.CopyFail);
    case 'PasswordMessage':
      return w.bytes(m.payload).finish(FRONTEND.PasswordMessage);
    case 'FunctionCall':
      return w.bytes(m.payload).finish(FRONTEND.FunctionCall);
  }
}

function encodeBind(w: Writer, m: Extract<FrontendMessage, { type: 'Bind' }>): Uint8Array {
  w.cstring(m.portal).cstring(m.statement).int16(m.paramFormats.length);
  for (const f of m.paramFormats) w.int16(f);
  w.int16(m.params.length);
  for (const p of m.params) p === null ? w.int32(-1) : w.int32(p.length).bytes(p);
  w.int16(m.resultFormats.length);
  for (const f of m.resultFormats) w.int16(f);
  return w.finish(FRONTEND.Bind);
}

export const encodePassword = (password: string): Uint8Array =>
  new Writer().cstring(password).finish(FRONTEND.PasswordMessage);

export function encodeSASLInitialResponse(mechanism: string, data: Uint8Array): Uint8Array {
  return new Writer()
    .cstring(mechanism)
    .int32(data.length)
    .bytes(data)
    .finish(FRONTEND.PasswordMessage);
}

export const encodeSASLResponse = (data: Uint8Array): Uint8Array =>
  new Writer().bytes(data).finish(FRONTEND.PasswordMessage);
