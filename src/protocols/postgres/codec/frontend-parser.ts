/**
 * Decoding of client (frontend) messages. Every decoder consumes its payload exactly; anything
 * else is `GW_PROTOCOL_MALFORMED`.
 * https://www.postgresql.org/docs/current/protocol-message-formats.html
 */
import { GatewayError } from '../../../errors.ts';
import { type Frame, Framer, UNTYPED } from './framer.ts';
import {
  CANCEL_REQUEST_CODE,
  FRONTEND,
  type FrontendMessage,
  GSSENC_REQUEST_CODE,
  SSL_REQUEST_CODE,
  type StartupPhaseMessage,
} from './messages.ts';
import { Reader } from './reader.ts';

/** Frontend parser: `push(bytes)` returns decoded messages, each with its raw frame bytes. */
export interface DecodedFrontend {
  readonly message: FrontendMessage | StartupPhaseMessage;
  /** The message exactly as received (type byte + length + payload), for forwarding. */
  readonly raw: Uint8Array;
}

/**
 * @example
 * const p = new FrontendParser({ maxFrame: 1 << 24 });
 * for (const { message } of p.push(chunk)) console.log(message.type);
 */
export class FrontendParser {
  readonly #framer: Framer;
  #startup = true;

  constructor(opts: { maxFrame: number }) {
    this.#framer = new Framer({ maxFrame: opts.maxFrame, typed: false });
  }

  /** Call once the startup phase is over (after a StartupMessage was accepted). */
  expectTyped(): void {
    this.#startup = false;
    this.#framer.expectTyped();
  }

  get buffered(): number {
    return this.#framer.buffered;
  }

  drain(): Uint8Array {
    return this.#framer.drain();
  }

  push(chunk: Uint8Array): DecodedFrontend[] {
    const { buf, frames } = this.#framer.push(chunk);
    const out: DecodedFrontend[] = [];
    for (const f of frames) {
      const raw = buf.subarray(f.start, f.end);
      const message = this.#startup ? decodeStartup(buf, f) : decodeFrontend(buf, f);
      out.push({ message, raw });
    }
    return out;
  }
}

/** Decodes an untyped startup-phase message: StartupMessage, SSLRequest, GSSENCRequest, CancelRequest. */
export function decodeStartup(buf: Uint8Array, f: Frame): StartupPhaseMessage {
  if (f.code !== UNTYPED) throw new GatewayError('GW_PROTOCOL_MALFORMED', 'expected startup');
  const r = new Reader(buf, f.body, f.end);
  const code = r.int32();
  if (code === SSL_REQUEST_CODE || code === GSSENC_REQUEST_CODE) {
    r.end();
    return { type: code === SSL_REQUEST_CODE ? 'SSLRequest' : 'GSSENCRequest' };
  }
  if (code === CANCEL_REQUEST_CODE) {
    const processId = r.int32();
    const secretKey = Uint8Array.from(r.rest());
    if (secretKey.length < 4 || secretKey.length > 256) {
      throw new GatewayError('GW_PROTOCOL_MALFORMED', 'invalid cancel key');
    }
    return { type: 'CancelRequest', processId, secretKey };
  }
  if (code >> 16 !== 3) {
    throw new GatewayError('GW_PROTOCOL_UNSUPPORTED', `unsupported protocol version ${code >> 16}`);
  }
  return { type: 'StartupMessage', protocolVersion: code, parameters: readParameters(r) };
}

function readParameters(r: Reader): Record<string, string> {
  const parameters: Record<string, string> = Object.create(null);
  for (;;) {
    const key = r.cstring();
    if (key === '') break;
    parameters[key] = r.cstring();
  }
  r.end();
  return parameters;
}

type Decoder = (r: Reader) => FrontendMessage;

const DECODERS: Record<number, Decoder> = {
  [FRONTEND.Query]: (r) => ({ type: 'Query', sql: r.cstring() }),
  [FRONTEND.Parse]: (r) => {
    const name = r.cstring();
    const sql = r.cstring();
    const n = r.uint16();
    const paramTypes: number[] = [];
    for (let i = 0; i < n; i++) paramTypes.push(r.int32() >>> 0);
    return { type: 'Parse', name, sql, paramTypes };
  },
  [FRONTEND.Bind]: decodeBind,
  [FRONTEND.Describe]: (r) => ({ type: 'Describe', target: target(r), name: r.cstring() }),
  [FRONTEND.Close]: (r) => ({ type: 'Close', target: target(r), name: r.cstring() }),
  [FRONTEND.Execute]: (r) => ({ type: 'Execute', portal: r.cstring(), maxRows: r.int32() }),
  [FRONTEND.Sync]: () => ({ type: 'Sync' }),
  [FRONTEND.Flush]: () => ({ type: 'Flush' }),
  [FRONTEND.Terminate]: () => ({ type: 'Terminate' }),
  [FRONTEND.CopyData]: (r) => ({ type: 'CopyData', data: r.rest() }),
  [FRONTEND.CopyDone]: () => ({ type: 'CopyDone' }),
  [FRONTEND.CopyFail]: (r) => ({ type: 'CopyFail', message: r.cstring() }),
  [FRONTEND.PasswordMessage]: (r) => ({ type: 'PasswordMessage', payload: r.rest() }),
  [FRONTEND.FunctionCall]: (r) => ({ type: 'FunctionCall', payload: r.rest() }),
};

/** Decodes one typed frontend frame. Unknown type bytes are `GW_PROTOCOL_MALFORMED`. */
export function decodeFrontend(buf: Uint8Array, f: Frame): FrontendMessage {
  const decode = DECODERS[f.code];
  if (!decode) {
    throw new GatewayError(
      'GW_PROTOCOL_MALFORMED',
      `unknown frontend message type 0x${f.code.toString(16).padStart(2, '0')}`,
    );
  }
  const r = new Reader(buf, f.body, f.end);
  const msg = decode(r);
  r.end();
  return msg;
}

function target(r: Reader): 'S' | 'P' {
  const t = r.byte();
  if (t === 0x53) return 'S';
  if (t === 0x50) return 'P';
  throw new GatewayError('GW_PROTOCOL_MALFORMED', 'Describe/Close target must be S or P');
}

/*
 * Bind: String portal, String statement, Int16 n + Int16[n] parameter formats,
 * Int16 n + (Int32 len | -1, Byte[len])[n] values, Int16 n + Int16[n] result formats.
 */
function decodeBind(r: Reader): FrontendMessage {
  const portal = r.cstring();
  const statement = r.cstring();
  const paramFormats = int16Array(r);
  const params = r.nullableValues('parameter');
  const resultFormats = int16Array(r);
  if (paramFormats.length > 1 && paramFormats.length !== params.length) {
    throw new GatewayError('GW_PROTOCOL_MALFORMED', 'parameter format count mismatch');
  }
  return { type: 'Bind', portal, statement, paramFormats, params, resultFormats };
}

function int16Array(r: Reader): number[] {
  const n = r.uint16();
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(r.int16());
  return out;
}

/** SASLInitialResponse: String mechanism, Int32 len (-1 = none), Byte[len] data. */
export function decodeSASLInitialResponse(payload: Uint8Array): {
  mechanism: string;
  data: Uint8Array | null;
} {
  const r = new Reader(payload);
  const mechanism = r.cstring();
  const len = r.int32();
  const data = len === -1 ? null : r.bytes(len);
  r.end();
  return { mechanism, data };
}

/** PasswordMessage: String password. */
export function decodePassword(payload: Uint8Array): string {
  const r = new Reader(payload);
  const password = r.cstring();
  r.end();
  return password;
}
