/**
 * Decoding of server (backend) messages. The relay only decodes the few it needs (ReadyForQuery,
 * CommandComplete, ErrorResponse, ...); DataRow bytes pass through untouched unless masked.
 * https://www.postgresql.org/docs/current/protocol-message-formats.html
 */
import { GatewayError } from '../../../errors.ts';
import type { Frame, FrameBatch } from './framer.ts';
import { Framer } from './framer.ts';
import {
  BACKEND,
  type BackendMessage,
  type FieldDescription,
  type NoticeFields,
} from './messages.ts';
import { Reader } from './reader.ts';

/**
 * @example
 * const p = new BackendParser({ maxFrame: 1 << 30 });
 * const batch = p.push(chunk);
 * for (const f of batch.frames) if (f.code === BACKEND.ReadyForQuery) decodeBackend(batch.buf, f);
 */
export class BackendParser {
  readonly #framer: Framer;

  constructor(opts: { maxFrame: number }) {
    this.#framer = new Framer({ maxFrame: opts.maxFrame, typed: true });
  }

  push(chunk: Uint8Array): FrameBatch {
    return this.#framer.push(chunk);
  }

  drain(): Uint8Array {
    return this.#framer.drain();
  }
}

type Decoder = (r: Reader) => BackendMessage;

const DECODERS: Record<number, Decoder> = {
  [BACKEND.Authentication]: (r) => ({ type: 'Authentication', code: r.int32(), data: r.rest() }),
  [BACKEND.ParameterStatus]: (r) => ({
    type: 'ParameterStatus',
    name: r.cstring(),
    value: r.cstring(),
  }),
  [BACKEND.BackendKeyData]: (r) => ({
    type: 'BackendKeyData',
    processId: r.int32(),
    secretKey: Uint8Array.from(r.rest()),
  }),
  [BACKEND.ReadyForQuery]: (r) => ({ type: 'ReadyForQuery', status: txStatus(r.byte()) }),
  [BACKEND.CommandComplete]: (r) => ({ type: 'CommandComplete', tag: r.cstring() }),
  [BACKEND.ErrorResponse]: (r) => ({ type: 'ErrorResponse', fields: noticeFields(r) }),
  [BACKEND.NoticeResponse]: (r) => ({ type: 'NoticeResponse', fields: noticeFields(r) }),
  [BACKEND.RowDescription]: decodeRowDescription,
  [BACKEND.DataRow]: decodeDataRow,
  [BACKEND.ParameterDescription]: (r) => {
    const n = r.uint16();
    const typeOids: number[] = [];
    for (let i = 0; i < n; i++) typeOids.push(r.int32() >>> 0);
    return { type: 'ParameterDescription', typeOids };
  },
  [BACKEND.NegotiateProtocolVersion]: (r) => {
    const minorVersion = r.int32();
    const n = r.int32();
    const options: string[] = [];
    for (let i = 0; i < n; i++) options.push(r.cstring());
    return { type: 'NegotiateProtocolVersion', minorVersion, options };
  },
};

/** Decodes one backend frame; types without a decoder come back as `Other` with their payload. */
export function decodeBackend(buf: Uint8Array, f: Frame): BackendMessage {
  const decode = DECODERS[f.code];
  const r = new Reader(buf, f.body, f.end);
  if (!decode) return { type: 'Other', code: f.code, payload: r.rest() };
  const msg = decode(r);
  r.end();
  return msg;
}

function txStatus(b: number): 'I' | 'T' | 'E' {
  if (b === 0x49) return 'I';
  if (b === 0x54) return 'T';
  if (b === 0x45) return 'E';
  throw new GatewayError('GW_PROTOCOL_MALFORMED', 'invalid transaction status');
}

/** ErrorResponse/NoticeResponse: (Byte1 field code, String value)* terminated by a zero byte. */
function noticeFields(r: Reader): NoticeFields {
  const fields: Record<string, string> = Object.create(null);
  for (;;) {
    const code = r.byte();
    if (code === 0) break;
    fields[String.fromCharCode(code)] = r.cstring();
  }
  return fields;
}

function decodeRowDescription(r: Reader): BackendMessage {
  const n = r.uint16();
  const fields: FieldDescription[] = [];
  for (let i = 0; i < n; i++) {
    fields.push({
      name: r.cstring(),
      tableOid: r.int32() >>> 0,
      columnAttr: r.int16(),
      typeOid: r.int32() >>> 0,
      typeSize: r.int16(),
      typeModifier: r.int32(),
      format: r.int16(),
    });
  }
  return { type: 'RowDescription', fields };
}

function decodeDataRow(r: Reader): BackendMessage {
  return { type: 'DataRow', values: r.nullableValues('column') };
}
