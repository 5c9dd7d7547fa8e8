/**
 * COPY … TO STDOUT masking. The server sends one CopyData message per row; text rows are
 * tab-separated with `\N` for NULL and backslash escapes, CSV rows are quoted fields, binary rows
 * are the same send formats as binary DataRow values.
 * https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.2
 * "Backslash characters (\) can be used in the COPY data to quote data characters that might
 *  otherwise be taken as row or column delimiters."
 */
import { analyzeSql, type TableRef } from '../../../sql/analyze.ts';
import { type MaskContext, maskBinary, maskText, type RowPlan } from './plan.ts';

/** One `COPY … TO STDOUT` statement, as far as masking cares. */
export interface CopySpec {
  readonly format: 'text' | 'csv' | 'binary';
  readonly delimiter: string;
  readonly nullString: string;
  readonly quote: string;
  readonly escape: string;
  readonly header: boolean;
  /** `COPY table [(columns)] TO`: the table as written; null for `COPY (query) TO`. */
  readonly relation: { readonly schema: string | null; readonly name: string } | null;
  readonly columns: readonly string[] | null;
  /** Relations the statement reads (the query's, for `COPY (query) TO`). */
  readonly tables: readonly TableRef[];
}

interface CopyStmtNode {
  relation?: { schemaname?: string; relname?: string };
  query?: unknown;
  attlist?: { String?: { sval?: string } }[];
  is_from?: boolean;
  filename?: string;
  is_program?: boolean;
  options?: { DefElem?: { defname?: string; arg?: unknown } }[];
}

/**
 * The `COPY … TO STDOUT` statements of a command text, in order (one CopyOutResponse each).
 *
 * @example
 * copySpecs("COPY patients (ssn) TO STDOUT WITH (FORMAT csv)")[0]?.format; // 'csv'
 */
export function copySpecs(text: string): CopySpec[] {
  const a = analyzeSql(text);
  if (!a.ok) return [];
  const out: CopySpec[] = [];
  for (const s of a.statements) {
    const c = (s.ast as { CopyStmt?: CopyStmtNode } | null)?.CopyStmt;
    if (!c || c.is_from || c.filename !== undefined || c.is_program) continue;
    out.push(specOf(c, s.tables));
  }
  return out;
}

function specOf(c: CopyStmtNode, tables: readonly TableRef[]): CopySpec {
  const opts = new Map<string, unknown>();
  for (const o of c.options ?? [])
    if (o.DefElem?.defname) opts.set(o.DefElem.defname, o.DefElem.arg);
  const format = optString(opts.get('format')) ?? 'text';
  const csv = format === 'csv';
  const quote = optString(opts.get('quote')) ?? '"';
  const rel = c.relation?.relname;
  return {
    format: format === 'csv' || format === 'binary' ? format : 'text',
    delimiter: optString(opts.get('delimiter')) ?? (csv ? ',' : '\t'),
    nullString: optString(opts.get('null')) ?? (csv ? '' : '\\N'),
    quote,
    escape: optString(opts.get('escape')) ?? quote,
    header: opts.has('header') && optBool(opts.get('header')),
    relation: rel && !c.query ? { schema: c.relation?.schemaname ?? null, name: rel } : null,
    columns: c.attlist ? c.attlist.map((x) => x.String?.sval ?? '') : null,
    tables,
  };
}

function optString(arg: unknown): string | undefined {
  const a = arg as { String?: { sval?: string } } | undefined;
  return a?.String?.sval;
}

/** HEADER, HEADER true/on/1, HEADER match (input only). */
function optBool(arg: unknown): boolean {
  if (arg === undefined) return true;
  const a = arg as { Boolean?: { boolval?: boolean }; Integer?: { ival?: number } };
  if (a.Boolean) return a.Boolean.boolval === true;
  if (a.Integer) return (a.Integer.ival ?? 0) !== 0;
  const s = optString(arg)?.toLowerCase();
  return s === 'true' || s === 'on' || s === 'match';
}

// ---- rows ----

/** A masked row, or null when unchanged. `row` is one CopyData payload. */
export function maskCopyRow(
  row: Uint8Array,
  spec: CopySpec,
  plan: RowPlan,
  ctx: MaskContext,
): Uint8Array | null {
  if (spec.format === 'binary') return maskBinaryRow(row, plan, ctx);
  const text = Buffer.from(row.buffer, row.byteOffset, row.byteLength).toString('utf8');
  const out =
    spec.format === 'csv' ? maskCsvRow(text, spec, plan, ctx) : maskTextRow(text, spec, plan, ctx);
  return out === null ? null : Buffer.from(out, 'utf8');
}

function splitEol(row: string): [string, string] {
  if (row.endsWith('\r\n')) return [row.slice(0, -2), '\r\n'];
  if (row.endsWith('\n')) return [row.slice(0, -1), '\n'];
  return [row, ''];
}

/** Text format: fields split on unescaped delimiters; only changed fields are re-escaped. */
export function maskTextRow(
  row: string,
  spec: CopySpec,
  plan: RowPlan,
  ctx: MaskContext,
): string | null {
  const [body, eol] = splitEol(row);
  const raw = splitTextFields(body, spec.delimiter);
  let changed = false;
  const out = raw.map((field, i) => {
    const col = plan[i];
    if (!col || field === spec.nullString) return field;
    const masked = maskText(unescapeText(field), col, ctx);
    if (masked === undefined) return field;
    changed = true;
    return masked === null ? spec.nullString : escapeText(masked, spec.delimiter);
  });
  return changed ? out.join(spec.delimiter) + eol : null;
}

export function splitTextFields(body: string, delimiter: string): string[] {
  const fields: string[] = [];
  let start = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === '\\') i++;
    else if (c === delimiter) {
      fields.push(body.slice(start, i));
      start = i + 1;
    }
  }
  fields.push(body.slice(start));
  return fields;
}

const UNESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

export function unescapeText(field: string): string {
  if (!field.includes('\\')) return field;
  return field.replace(/\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)/gs, (_, e: string) => {
    if (e[0] === 'x' && e.length > 1) return String.fromCharCode(Number.parseInt(e.slice(1), 16));
    if (/^[0-7]/.test(e)) return String.fromCharCode(Number.parseInt(e, 8));
    return UNESCAPES[e] ?? e;
  });
}

export function escapeText(value: string, delimiter: string): string {
  let out = '';
  for (const ch of value) {
    if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t' && delimiter === '\t') out += '\\t';
    else if (ch === delimiter) out += `\\${ch}`;
    else out += ch;
  }
  return out;
}

/** CSV: quoted fields (`""` or the ESCAPE character inside), NULL is an unquoted null string. */
export function maskCsvRow(
  row: string,
  spec: CopySpec,
  plan: RowPlan,
  ctx: MaskContext,
): string | null {
  const [body, eol] = splitEol(row);
  const fields = parseCsvFields(body, spec);
  let changed = false;
  const out = fields.map((f, i) => {
    const col = plan[i];
    if (!col || (!f.quoted && f.value === spec.nullString)) return f.raw;
    const masked = maskText(f.value, col, ctx);
    if (masked === undefined) return f.raw;
    changed = true;
    return masked === null ? spec.nullString : quoteCsv(masked, spec);
  });
  return changed ? out.join(spec.delimiter) + eol : null;
}

export interface CsvField {
  readonly raw: string;
  readonly value: string;
  readonly quoted: boolean;
}

export function parseCsvFields(body: string, spec: CopySpec): CsvField[] {
  const fields: CsvField[] = [];
  let i = 0;
  for (;;) {
    const start = i;
    let value = '';
    let quoted = false;
    while (i < body.length && body[i] !== spec.delimiter) {
      if (body[i] !== spec.quote) {
        value += body[i++];
        continue;
      }
      quoted = true;
      i++;
      while (i < body.length) {
        const c = body[i] as string;
        if (c === spec.escape && body[i + 1] === spec.quote) {
          value += spec.quote;
          i += 2;
        } else if (c === spec.escape && spec.escape !== spec.quote && body[i + 1] === spec.escape) {
          value += spec.escape;
          i += 2;
        } else if (c === spec.quote) {
          i++;
          break;
        } else {
          value += c;
          i++;
        }
      }
    }
    fields.push({ raw: body.slice(start, i), value, quoted });
    if (i >= body.length) return fields;
    i++;
  }
}

function quoteCsv(value: string, spec: CopySpec): string {
  let out = spec.quote;
  for (const ch of value) {
    if (ch === spec.quote || (ch === spec.escape && spec.escape !== spec.quote)) out += spec.escape;
    out += ch;
  }
  return out + spec.quote;
}

// ---- binary ----

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/**
 * Binary COPY: an optional file header (first message), then Int16 field count (-1 ends the
 * data) and per field Int32 length (-1 NULL) plus bytes.
 */
function maskBinaryRow(row: Uint8Array, plan: RowPlan, ctx: MaskContext): Uint8Array | null {
  const b = Buffer.from(row.buffer, row.byteOffset, row.byteLength);
  let pos = 0;
  if (b.length >= 19 && b.subarray(0, 11).equals(SIGNATURE)) pos = 19 + b.readInt32BE(15);
  if (pos + 2 > b.length) return null;
  const n = b.readInt16BE(pos);
  if (n < 0) return null;
  const parts: Uint8Array[] = [b.subarray(0, pos + 2)];
  let changed = false;
  pos += 2;
  for (let i = 0; i < n; i++) {
    const len = b.readInt32BE(pos);
    const v = len >= 0 ? b.subarray(pos + 4, pos + 4 + len) : null;
    const col = plan[i];
    const out = col && v ? maskBinary(v, col, ctx) : undefined;
    if (out === undefined) parts.push(b.subarray(pos, pos + 4 + Math.max(len, 0)));
    else {
      changed = true;
      const head = Buffer.alloc(4);
      head.writeInt32BE(out === null ? -1 : out.length);
      parts.push(head);
      if (out) parts.push(out);
    }
    pos += 4 + Math.max(len, 0);
  }
  if (!changed) return null;
  parts.push(b.subarray(pos));
  return Buffer.concat(parts);
}
