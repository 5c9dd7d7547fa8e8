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
import type { ChunkWriter } from './chunk-writer.ts';
import {
  byteFilterOf,
  type ColumnAction,
  type MaskContext,
  maskBinary,
  maskText,
  type RowPlan,
} from './plan.ts';

/** Value offsets and lengths of the row being masked (reused: masking is synchronous). */
const row = { starts: new Int32Array(64), lengths: new Int32Array(64) };

/**
 * Returns the new message, or null when the row is unchanged.
 *
 * @example
 * const out = maskDataRow(frameBytes, plan, ctx); // frameBytes: the whole 'D' message
 */
export function maskDataRow(msg: Uint8Array, plan: RowPlan, ctx: MaskContext): Uint8Array | null {
  const changes = maskValues(msg, 0, msg.length, plan, ctx);
  if (!changes) return null;
  const out = Buffer.allocUnsafe(rowSize(changes, plan.length));
  writeRow(out, 0, out.length, msg, 0, plan.length, changes);
  return out;
}

/**
 * The same for the frame `buf[start, end)` of a batch: a changed row is written into `out` in
 * place of the frame (which `out` then skips); returns whether it changed.
 *
 * @example
 * if (maskDataRowInto(batch, f.start, f.end, plan, ctx, writer)) tally.rows++;
 */
export function maskDataRowInto(
  buf: Uint8Array,
  start: number,
  end: number,
  plan: RowPlan,
  ctx: MaskContext,
  out: ChunkWriter,
): boolean {
  const changes = maskValues(buf, start, end, plan, ctx);
  if (!changes) return false;
  const size = rowSize(changes, plan.length);
  const at = out.reserve(start, size);
  try {
    writeRow(out.buffer, at, size, buf, start, plan.length, changes);
  } catch (err) {
    out.unreserve(at); // never send a half-written (uninitialised) row
    throw err;
  }
  out.skip(end);
  return true;
}

/** The changes of the row's values (undefined where unchanged), or null when none changed. */
function maskValues(
  msg: Uint8Array,
  start: number,
  end: number,
  plan: RowPlan,
  ctx: MaskContext,
): Change[] | null {
  const n = ((msg[start + 5] as number) << 8) | (msg[start + 6] as number);
  if (n !== plan.length) {
    throw new GatewayError(
      'GW_MASKING_FAILED',
      `masking failed: a row has ${n} columns where ${plan.length} were described; the result was not delivered`,
    );
  }
  if (row.starts.length < n) {
    row.starts = new Int32Array(n * 2);
    row.lengths = new Int32Array(n * 2);
  }
  const { starts, lengths } = row;
  let changes: Change[] | null = null;
  let pos = start + 7;
  for (let i = 0; i < n; i++) {
    const len = readInt32(msg, pos);
    pos += 4;
    starts[i] = pos;
    lengths[i] = len;
    const col = plan[i];
    if (col && len >= 0 && !ruledOut(msg, pos, len, col, ctx)) {
      const out =
        col.format === 1
          ? maskBinary(msg.subarray(pos, pos + len), col, ctx)
          : col.constant !== undefined
            ? constant(col, ctx)
            : maskText(ctx.values.decode(msg, pos, pos + len), col, ctx);
      if (out !== undefined) {
        changes ??= new Array(n);
        changes[i] = out;
      }
    }
    if (len > 0) pos += len;
  }
  if (pos !== end) throw new GatewayError('GW_PROTOCOL_MALFORMED', 'malformed DataRow');
  return changes;
}

/**
 * Detector scans only: a value whose UTF-8 bytes no detector of the column could match is left
 * as it is without being decoded (most values of a scanned column). Binary values qualify when
 * their wire form is their UTF-8 text.
 */
function ruledOut(
  msg: Uint8Array,
  pos: number,
  len: number,
  col: ColumnAction,
  ctx: MaskContext,
): boolean {
  if (col.action.kind !== 'scan') return false;
  const k = col.kind;
  if (col.format === 1 && (k.decode !== null || k.jsonbPrefix || k.opaque)) return false;
  return !byteFilterOf(col, ctx.values).mayContain(msg, pos, pos + len);
}

/** A value replaced, masked (a string is written as UTF-8), or NULL; undefined: unchanged. */
type Change = Uint8Array | string | null | undefined;

/** `full` over a text column: the value need not even be decoded. */
function constant(col: ColumnAction, ctx: MaskContext): string | undefined {
  if (col.action.kind !== 'whole') return undefined;
  ctx.tally.value(col.label, col.action.rule, false);
  return col.constant;
}

/** UTF-8 size of a change; ASCII strings (masks, tokens) are their length. */
function changeSize(c: Change, len: number): number {
  if (c === undefined) return Math.max(len, 0);
  if (c === null) return 0;
  if (typeof c !== 'string') return c.length;
  for (let i = 0; i < c.length; i++)
    if (c.charCodeAt(i) >= 128) return Buffer.byteLength(c, 'utf8');
  return c.length;
}

function putInt32(out: Uint8Array, at: number, v: number): void {
  out[at] = v >>> 24;
  out[at + 1] = v >>> 16;
  out[at + 2] = v >>> 8;
  out[at + 3] = v;
}

function rowSize(changes: readonly Change[], n: number): number {
  let size = 7 + 4 * n;
  for (let i = 0; i < n; i++) size += changeSize(changes[i], row.lengths[i] as number);
  return size;
}

/** The row with its changes, `size` bytes at `out[at]` (the source row starts at `msg[start]`). */
function writeRow(
  out: Buffer,
  at: number,
  size: number,
  msg: Uint8Array,
  start: number,
  n: number,
  changes: readonly Change[],
): void {
  const { starts, lengths } = row;
  out[at] = BACKEND.DataRow;
  putInt32(out, at + 1, size - 1);
  out[at + 5] = msg[start + 5] as number;
  out[at + 6] = msg[start + 6] as number;
  let pos = at + 7;
  // Unchanged columns are copied with their length words, a run of them at a time.
  let runFrom = -1;
  let runTo = -1;
  for (let i = 0; i < n; i++) {
    const c = changes[i];
    if (c === undefined) {
      const len = lengths[i] as number;
      if (runFrom < 0) runFrom = (starts[i] as number) - 4;
      runTo = (starts[i] as number) + Math.max(len, 0);
      continue;
    }
    if (runFrom >= 0) {
      pos = copy(msg, runFrom, runTo, out, pos);
      runFrom = -1;
    }
    if (c === null) {
      putInt32(out, pos, -1);
      pos += 4;
    } else if (typeof c === 'string') {
      const written = writeString(out, c, pos + 4);
      putInt32(out, pos, written);
      pos += 4 + written;
    } else {
      putInt32(out, pos, c.length);
      out.set(c, pos + 4);
      pos += 4 + c.length;
    }
  }
  if (runFrom >= 0) copy(msg, runFrom, runTo, out, pos);
}

/** `msg[from, to)` into `out` at `pos`; short spans byte by byte (no view allocated). */
function copy(msg: Uint8Array, from: number, to: number, out: Buffer, pos: number): number {
  const len = to - from;
  if (len > 64) out.set(msg.subarray(from, to), pos);
  else for (let i = 0; i < len; i++) out[pos + i] = msg[from + i] as number;
  return pos + len;
}

/** Short ASCII strings byte by byte (cheaper than an encoder call); others as UTF-8. */
function writeString(out: Buffer, s: string, at: number): number {
  if (s.length > 64) return out.write(s, at, 'utf8');
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128) return out.write(s, at, 'utf8');
    out[at + i] = c;
  }
  return s.length;
}
