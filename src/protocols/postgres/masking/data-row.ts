/**
 * DataRow masking: values are read in place, and a row is re-encoded (new lengths, same column
 * count) only when one of its values changed; otherwise the original bytes go out.
 * https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-DATAROW
 * DataRow (B): Byte1('D') Int32 len, Int16 column count, then per column Int32 value length
 * (-1 = NULL) and that many bytes, "in the format indicated by the associated format code".
 */
import { GatewayError } from '../../../errors.ts';
import { readInt32 } from '../codec/framer.ts';
import { BACKEND } from '../codec/messages.ts';
import { type ColumnAction, type MaskContext, maskBinary, maskText, type RowPlan } from './plan.ts';

let starts = new Int32Array(64);
let lengths = new Int32Array(64);

/**
 * Returns the new message, or null when the row is unchanged.
 *
 * @example
 * const out = maskDataRow(frameBytes, plan, ctx); // frameBytes: the whole 'D' message
 */
export function maskDataRow(msg: Uint8Array, plan: RowPlan, ctx: MaskContext): Uint8Array | null {
  const n = ((msg[5] as number) << 8) | (msg[6] as number);
  if (n !== plan.length) {
    throw new GatewayError(
      'GW_MASKING_FAILED',
      `masking failed: a row has ${n} columns where ${plan.length} were described; the result was not delivered`,
    );
  }
  if (starts.length < n) {
    starts = new Int32Array(n * 2);
    lengths = new Int32Array(n * 2);
  }
  const b = Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength);
  let changes: Change[] | undefined;
  let pos = 7;
  for (let i = 0; i < n; i++) {
    const len = readInt32(msg, pos);
    pos += 4;
    starts[i] = pos;
    lengths[i] = len;
    const col = plan[i];
    if (col && len >= 0) {
      const out =
        col.format === 1
          ? maskBinary(msg.subarray(pos, pos + len), col, ctx)
          : col.constant !== undefined
            ? constant(col, ctx)
            : maskText(b.toString('utf8', pos, pos + len), col, ctx);
      if (out !== undefined) {
        changes ??= new Array(n);
        changes[i] = out;
      }
    }
    if (len > 0) pos += len;
  }
  if (pos !== msg.length) throw new GatewayError('GW_PROTOCOL_MALFORMED', 'malformed DataRow');
  return changes ? rebuild(msg, n, changes) : null;
}

/** A value replaced, masked (a string is written as UTF-8), or NULL; undefined: unchanged. */
type Change = Uint8Array | string | null | undefined;

/** `full` over a text column: the value need not even be decoded. */
function constant(col: ColumnAction, ctx: MaskContext): string | undefined {
  if (col.action.kind !== 'whole') return undefined;
  ctx.tally.value(col.label, col.action.rule, false);
  return col.constant;
}

function rebuild(msg: Uint8Array, n: number, changes: readonly Change[]): Uint8Array {
  let size = 7;
  for (let i = 0; i < n; i++) {
    const c = changes[i];
    const len = lengths[i] as number;
    size +=
      4 +
      (c === undefined
        ? Math.max(len, 0)
        : c === null
          ? 0
          : typeof c === 'string'
            ? Buffer.byteLength(c, 'utf8')
            : c.length);
  }
  const out = Buffer.allocUnsafe(size);
  out[0] = BACKEND.DataRow;
  out.writeInt32BE(size - 1, 1);
  out.writeInt16BE(n, 5);
  let pos = 7;
  for (let i = 0; i < n; i++) {
    const c = changes[i];
    if (c === undefined) {
      const len = lengths[i] as number;
      out.writeInt32BE(len, pos);
      pos += 4;
      if (len > 0) {
        const s = starts[i] as number;
        out.set(msg.subarray(s, s + len), pos);
        pos += len;
      }
    } else if (c === null) {
      out.writeInt32BE(-1, pos);
      pos += 4;
    } else if (typeof c === 'string') {
      const written = out.write(c, pos + 4, 'utf8');
      out.writeInt32BE(written, pos);
      pos += 4 + written;
    } else {
      out.writeInt32BE(c.length, pos);
      out.set(c, pos + 4);
      pos += 4 + c.length;
    }
  }
  return out;
}
