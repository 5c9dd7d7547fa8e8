/**
 * Masking of one PostgreSQL session's results, frame by frame. The relay tells it what the client
 * asked (Parse, Bind, Describe, Execute, Query) and shows it every upstream frame together with
 * the tracker's current response owner; it answers with nothing (forward as is), a replacement,
 * a stall (hold this frame and everything after it until the catalog has named the columns), or
 * a failure (end the session: a value could not be masked and its rule says fail).
 *
 * Column plans are kept per simple-query result and per portal: extended-protocol DataRows carry
 * no description of their own, so a portal's columns come from its Describe (or its statement's
 * Describe and the Bind's result formats), and the relay asks for one when the client did not.
 */
import { GatewayError } from '../../../errors.ts';
import type { MaskingEngine } from '../../../masking/engine.ts';
import type { ColumnName, SessionRules } from '../../../masking/rules.ts';
import { MaskTally } from '../../../masking/tally.ts';
import { analyzeSql } from '../../../sql/analyze.ts';
import type { Logger } from '../../../telemetry/logger.ts';
import { decodeBackend } from '../codec/backend-parser.ts';
import type { Frame } from '../codec/framer.ts';
import { BACKEND, type FieldDescription } from '../codec/messages.ts';
import {
  encodeBackendRaw,
  encodeErrorResponse,
  encodeNoticeResponse,
} from '../codec/serializer.ts';
import type { CommandRun, Pending } from '../tracker.ts';
import {
  type CatalogAnswer,
  type CatalogPort,
  type CatalogRequest,
  columnKey,
  type TableInfo,
  tableKey,
} from './catalog.ts';
import type { ChunkWriter } from './chunk-writer.ts';
import { type CopySpec, copySpecs, maskCopyRow } from './copy.ts';
import { maskDataRow, maskDataRowInto } from './data-row.ts';
import { maskNoticeFields, scanText } from './notices.ts';
import { needsTypeInfo, type TypeInfo } from './pg-types.ts';
import { buildRowPlan, type PlanColumn, type RowPlan } from './plan.ts';

export interface StatementRef {
  /** From the statement's Describe: columns, null for NoData, undefined until answered. */
  fields: readonly FieldDescription[] | null | undefined;
  /** The client asked for a Describe of it. */
  described: boolean;
}

interface ResultState {
  readonly text: string;
  /** The current result's plan: undefined before its description, null when nothing to do. */
  plan: RowPlan | null | undefined;
  copies: CopySpec[] | undefined;
  copyIndex: number;
  copy: { spec: CopySpec; plan: RowPlan | null | undefined; header: boolean } | undefined;
  /** The command changes definitions: the catalog cache is emptied when it completes. */
  readonly ddl: boolean;
}

export interface PortalRef extends ResultState {
  readonly kind: 'portal';
  readonly stmt: StatementRef | undefined;
  readonly formats: readonly number[];
  fields: readonly FieldDescription[] | null | undefined;
  described: boolean;
}

export interface QueryRef extends ResultState {
  readonly kind: 'query';
}

export interface DescribeRef {
  readonly target: StatementRef | PortalRef;
  /** Sent by the gateway, not the client: its answer is not forwarded. */
  readonly internal: boolean;
}

export type FrameAction =
  | { readonly kind: 'replace'; readonly bytes: Uint8Array }
  /** The replacement went into the caller's `ChunkWriter`, which skips the frame. */
  | { readonly kind: 'written' }
  | { readonly kind: 'stall'; readonly until: Promise<void> }
  | { readonly kind: 'fail'; readonly error: GatewayError };

const DROP: FrameAction = { kind: 'replace', bytes: new Uint8Array(0) };
const WRITTEN: FrameAction = { kind: 'written' };

interface Overlay {
  readonly columns: ReadonlyMap<string, ColumnName | null>;
  readonly types: ReadonlyMap<number, TypeInfo | null>;
  readonly tables: ReadonlyMap<string, TableInfo | null>;
}

export interface ResultMaskerDeps {
  readonly engine: MaskingEngine;
  readonly rules: SessionRules;
  readonly catalog: CatalogPort | undefined;
  readonly logger: Logger;
  readonly sessionId: string;
}

/**
 * @example
 * const masker = new ResultMasker({ engine, rules, catalog, logger, sessionId: ctx.id });
 * const action = masker.onFrame(tracker.head, batch.buf, frame, writer);
 */
export class ResultMasker {
  readonly #deps: ResultMaskerDeps;
  readonly #statements = new Map<string, StatementRef>();
  readonly #portals = new Map<string, PortalRef>();
  /** The last catalog answer (misses as null), consulted before the shared cache. */
  #overlay: Overlay | undefined;

  constructor(deps: ResultMaskerDeps) {
    this.#deps = deps;
  }

  get version(): string {
    return this.#deps.engine.version;
  }

  // ---- what the client asked ----

  parsed(name: string): void {
    this.#statements.set(name, { fields: undefined, described: false });
  }

  bound(portal: string, statement: string, formats: readonly number[], text: string): void {
    this.#portals.set(portal, {
      kind: 'portal',
      stmt: this.#statements.get(statement),
      formats,
      fields: undefined,
      described: false,
      ...this.#result(text),
    });
  }

  closed(target: 'S' | 'P', name: string): void {
    if (target === 'S') this.#statements.delete(name);
    else this.#portals.delete(name);
  }

  describe(target: 'S' | 'P', name: string): DescribeRef | undefined {
    const ref = target === 'S' ? this.#statements.get(name) : this.#portals.get(name);
    if (!ref) return undefined;
    ref.described = true;
    return { target: ref, internal: false };
  }

  /** The portal's state, and whether the gateway must describe it first. */
  execute(portal: string, text: string): { ref: PortalRef; describeFirst: boolean } {
    let ref = this.#portals.get(portal);
    if (!ref) {
      ref = {
        kind: 'portal',
        stmt: undefined,
        formats: [],
        fields: undefined,
        described: false,
        ...this.#result(text),
      };
      this.#portals.set(portal, ref);
    }
    const describeFirst = !ref.described && !ref.stmt?.described;
    if (describeFirst) ref.described = true;
    return { ref, describeFirst };
  }

  internalDescribe(ref: PortalRef): DescribeRef {
    return { target: ref, internal: true };
  }

  query(text: string): QueryRef {
    return { kind: 'query', ...this.#result(text) };
  }

  #result(text: string) {
    const ddl = isDdl(text);
    if (ddl) this.#deps.catalog?.invalidate();
    return { text, plan: undefined, copies: undefined, copyIndex: 0, copy: undefined, ddl };
  }

  // ---- what the server answered ----

  /**
   * Called for every upstream frame before the tracker sees it. With `out`, a masked DataRow is
   * written there (`written`) instead of being returned (`replace`).
   */
  onFrame(
    head: Pending | undefined,
    buf: Uint8Array,
    f: Frame,
    out?: ChunkWriter,
  ): FrameAction | undefined {
    try {
      return this.#frame(head, buf, f, out);
    } catch (err) {
      const error =
        err instanceof GatewayError
          ? err
          : new GatewayError('GW_MASKING_FAILED', 'masking failed; the result was not delivered', {
              cause: err,
            });
      const run = runOf(head);
      if (run) tallyOf(run).failed ??= { rule: '-', reason: error.code };
      return { kind: 'fail', error };
    }
  }

  #frame(
    head: Pending | undefined,
    buf: Uint8Array,
    f: Frame,
    out: ChunkWriter | undefined,
  ): FrameAction | undefined {
    switch (f.code) {
      case BACKEND.DataRow:
        return this.#dataRow(head, buf, f, out);
      case BACKEND.CopyData:
        return this.#copyData(head, buf, f);
      case BACKEND.RowDescription:
        return this.#rowDescription(head, buf, f);
      case BACKEND.NoData:
        if (head?.kind === 'describe' && head.ref) {
          head.ref.target.fields = null;
          if (head.ref.internal) return DROP;
        }
        return undefined;
      case BACKEND.CopyOutResponse:
        return this.#copyOut(head, buf, f);
      case BACKEND.CommandComplete:
      case BACKEND.EmptyQueryResponse:
      case BACKEND.CopyDone:
        this.#endResult(head, f.code);
        return undefined;
      case BACKEND.ErrorResponse:
      case BACKEND.NoticeResponse:
        if (f.code === BACKEND.ErrorResponse) this.#endResult(head, f.code);
        return this.#notice(head, buf, f);
      case BACKEND.NotificationResponse:
        return this.#notification(head, buf, f);
      case BACKEND.FunctionCallResponse:
        throw new GatewayError(
          'GW_MASKING_FAILED',
          'masking failed: function call results cannot be inspected',
        );
      default:
        return undefined;
    }
  }

  #rowDescription(head: Pending | undefined, buf: Uint8Array, f: Frame): FrameAction | undefined {
    const m = decodeBackend(buf, f);
    if (m.type !== 'RowDescription') return undefined;
    if (head?.kind === 'describe' && head.ref) {
      const target = head.ref.target;
      target.fields = m.fields;
      if ('kind' in target) {
        const plan = this.#plan(m.fields);
        if (plan instanceof Promise) return { kind: 'stall', until: plan };
        target.plan = plan;
      }
      return head.ref.internal ? DROP : undefined;
    }
    if (head?.kind === 'query' && head.ref) {
      const plan = this.#plan(m.fields);
      if (plan instanceof Promise) return { kind: 'stall', until: plan };
      head.ref.plan = plan;
    }
    return undefined;
  }

  #dataRow(
    head: Pending | undefined,
    buf: Uint8Array,
    f: Frame,
    writer: ChunkWriter | undefined,
  ): FrameAction | undefined {
    const ref = refOf(head);
    const run = runOf(head);
    if (!ref || !run) throw unexpected('a row arrived for no statement');
    if (ref.plan === undefined) {
      if (ref.kind === 'query') throw unexpected('a row arrived before its description');
      const fields = portalFields(ref);
      if (!fields) throw unexpected('a row arrived for a portal without a description');
      const plan = this.#plan(fields);
      if (plan instanceof Promise) return { kind: 'stall', until: plan };
      ref.plan = plan;
    }
    const plan = ref.plan;
    if (!plan) return undefined;
    const tally = tallyOf(run);
    const ctx = { values: this.#deps.engine.values, tally };
    if (writer) {
      if (!maskDataRowInto(buf, f.start, f.end, plan, ctx, writer)) return undefined;
      tally.rows++;
      return WRITTEN;
    }
    const out = maskDataRow(buf.subarray(f.start, f.end), plan, ctx);
    if (!out) return undefined;
    tally.rows++;
    return { kind: 'replace', bytes: out };
  }

  #endResult(head: Pending | undefined, code: number): void {
    const ref = refOf(head);
    if (!ref) return;
    if (code !== BACKEND.CopyDone && ref.kind === 'query') ref.plan = undefined;
    ref.copy = undefined;
    if (ref.ddl && code !== BACKEND.CopyDone) this.#deps.catalog?.invalidate();
  }

  // ---- COPY TO STDOUT ----

  /** CopyOutResponse (B): Int8 overall format, Int16 columns, Int16 format per column. */
  #copyOut(head: Pending | undefined, buf: Uint8Array, f: Frame): FrameAction | undefined {
    const ref = refOf(head);
    if (!ref) throw unexpected('COPY data for no statement');
    const binary = buf[f.body] === 1;
    const n = ((buf[f.body + 1] as number) << 8) | (buf[f.body + 2] as number);
    if (!ref.copy) {
      ref.copies ??= copySpecs(ref.text);
      const spec = ref.copies[ref.copyIndex++] ?? defaultSpec(binary);
      const fixed = binary && spec.format !== 'binary' ? defaultSpec(true) : spec;
      ref.copy = { spec: fixed, plan: undefined, header: fixed.header && !binary };
    }
    const plan = this.#copyPlan(ref.copy.spec, n, binary);
    if (plan instanceof Promise) return { kind: 'stall', until: plan };
    ref.copy.plan = plan;
    return undefined;
  }

  #copyData(head: Pending | undefined, buf: Uint8Array, f: Frame): FrameAction | undefined {
    const ref = refOf(head);
    const run = runOf(head);
    const copy = ref?.copy;
    if (!copy || !run) return undefined;
    if (copy.header) {
      copy.header = false;
      return undefined;
    }
    if (!copy.plan) return undefined;
    const tally = tallyOf(run);
    const row = buf.subarray(f.body, f.end);
    const out = maskCopyRow(row, copy.spec, copy.plan, { values: this.#deps.engine.values, tally });
    if (!out) return undefined;
    tally.rows++;
    return { kind: 'replace', bytes: encodeBackendRaw(BACKEND.CopyData, out) };
  }

  #copyPlan(spec: CopySpec, n: number, binary: boolean): RowPlan | null | Promise<void> {
    const rules = this.#deps.rules;
    const format = binary ? 1 : 0;
    const anyType = binary ? 0 : 25;
    const unnamed = (name: PlanColumn['name']): PlanColumn[] =>
      Array.from({ length: n }, (_, i) => ({
        name,
        fieldName: `column ${i + 1}`,
        typeOid: anyType,
        format,
      }));
    if (spec.relation) {
      if (!rules.needsNames && !binary) return buildRowPlan(unnamed(null), rules);
      const table = this.#table(spec.relation);
      if (table === undefined) return this.#load({ tables: [spec.relation] });
      const cols = table && copyColumns(table, spec.columns);
      this.#overlay = undefined;
      if (!table || !cols || cols.length !== n) return buildRowPlan(unnamed('unresolved'), rules);
      return buildRowPlan(
        cols.map((c) => ({
          name: { schema: table.schema, table: table.table, column: c.name },
          fieldName: c.name,
          typeOid: c.typeOid,
          format,
        })),
        rules,
      );
    }
    if (!rules.needsNames) return buildRowPlan(unnamed(null), rules);
    const tables = spec.tables.map((t) => ({ schema: t.schema, name: t.name }));
    const infos = tables.map((t) => this.#table(t));
    const missing = tables.filter((_, i) => infos[i] === undefined);
    if (missing.length > 0) return this.#load({ tables: missing });
    // A query over a table with column rules cannot be mapped column by column: fail closed.
    const sensitive = infos.some(
      (t) =>
        !t ||
        t.columns.some((c) => {
          const a = rules.actionFor({ schema: t.schema, table: t.table, column: c.name });
          return a !== null && (a.kind === 'whole' || a.scan !== rules.anywhereScan);
        }),
    );
    this.#overlay = undefined;
    return buildRowPlan(unnamed(sensitive ? 'unresolved' : null), rules);
  }

  // ---- server messages ----

  #notice(head: Pending | undefined, buf: Uint8Array, f: Frame): FrameAction | undefined {
    const m = decodeBackend(buf, f);
    if (m.type !== 'ErrorResponse' && m.type !== 'NoticeResponse') return undefined;
    const run = runOf(head);
    const tally = run ? tallyOf(run) : undefined;
    const fields = maskNoticeFields(m.fields, {
      rules: this.#deps.rules,
      values: this.#deps.engine.values,
      tally,
    });
    if (!fields) return undefined;
    const bytes =
      m.type === 'ErrorResponse' ? encodeErrorResponse(fields) : encodeNoticeResponse(fields);
    return { kind: 'replace', bytes };
  }

  /** NotificationResponse (B): Int32 process id, String channel, String payload. */
  #notification(head: Pending | undefined, buf: Uint8Array, f: Frame): FrameAction | undefined {
    const body = Buffer.from(buf.buffer, buf.byteOffset + f.body, f.end - f.body);
    const channelEnd = body.indexOf(0, 4);
    const payloadEnd = body.indexOf(0, channelEnd + 1);
    if (channelEnd < 0 || payloadEnd < 0) return undefined;
    const payload = body.toString('utf8', channelEnd + 1, payloadEnd);
    const run = runOf(head);
    const tally = run ? tallyOf(run) : undefined;
    const masked = scanText(payload, {
      rules: this.#deps.rules,
      values: this.#deps.engine.values,
      tally,
    });
    if (masked === null) return undefined;
    const out = Buffer.concat([
      body.subarray(0, channelEnd + 1),
      Buffer.from(masked, 'utf8'),
      Buffer.from([0]),
    ]);
    return { kind: 'replace', bytes: encodeBackendRaw(BACKEND.NotificationResponse, out) };
  }

  // ---- catalog ----

  /** The plan for these fields, or a promise that settles once the catalog has answered. */
  #plan(fields: readonly FieldDescription[]): RowPlan | null | Promise<void> {
    const rules = this.#deps.rules;
    const columns: [number, number][] = [];
    const types: number[] = [];
    const cols: PlanColumn[] = fields.map((fd) => {
      let name: PlanColumn['name'] = null;
      if (fd.tableOid !== 0 && rules.needsNames) {
        const found = this.#column(fd.tableOid, fd.columnAttr);
        if (found === undefined) columns.push([fd.tableOid, fd.columnAttr]);
        name = found ?? 'unresolved';
      }
      let typeInfo: TypeInfo | undefined;
      if (needsTypeInfo(fd.typeOid)) {
        const t = this.#type(fd.typeOid);
        if (t === undefined) types.push(fd.typeOid);
        typeInfo = t ?? undefined;
      }
      return { name, fieldName: fd.name, typeOid: fd.typeOid, format: fd.format, typeInfo };
    });
    if (columns.length > 0 || types.length > 0) return this.#load({ columns, types });
    this.#overlay = undefined;
    return buildRowPlan(cols, rules);
  }

  /** A name, 'unresolved' (looked up and not found), or undefined (not looked up yet). */
  #column(tableOid: number, attnum: number): ColumnName | 'unresolved' | undefined {
    const o = this.#overlay?.columns.get(columnKey(tableOid, attnum));
    if (o !== undefined) return o ?? 'unresolved';
    return (
      this.#deps.catalog?.peekColumn(tableOid, attnum) ??
      (this.#deps.catalog ? undefined : 'unresolved')
    );
  }

  #type(oid: number): TypeInfo | null | undefined {
    const o = this.#overlay?.types.get(oid);
    if (o !== undefined) return o;
    return this.#deps.catalog?.peekType(oid) ?? (this.#deps.catalog ? undefined : null);
  }

  #table(t: { schema: string | null; name: string }): TableInfo | null | undefined {
    const o = this.#overlay?.tables.get(tableKey(t));
    if (o !== undefined) return o;
    return this.#deps.catalog?.peekTable(t) ?? (this.#deps.catalog ? undefined : null);
  }

  /** Resolves the keys into the overlay; on failure they stay unresolved (fail closed). */
  #load(req: CatalogRequest): Promise<void> {
    const catalog = this.#deps.catalog as CatalogPort;
    const settle = (a: CatalogAnswer | undefined): void => {
      this.#overlay = overlayOf(req, a);
    };
    return catalog.load(req).then(settle, (err: unknown) => {
      this.#deps.logger.warn(
        'masking: catalog lookup failed; unresolved columns are masked or fail',
        {
          session: this.#deps.sessionId,
          reason: err instanceof Error ? err.message.slice(0, 200) : 'unknown',
        },
      );
      settle(undefined);
    });
  }
}

function overlayOf(req: CatalogRequest, a: CatalogAnswer | undefined): Overlay {
  const columns = new Map<string, ColumnName | null>();
  for (const [t, n] of req.columns ?? []) {
    const k = columnKey(t, n);
    columns.set(k, a?.columns.get(k) ?? null);
  }
  const types = new Map<number, TypeInfo | null>();
  for (const oid of req.types ?? []) types.set(oid, a?.types.get(oid) ?? null);
  const tables = new Map<string, TableInfo | null>();
  for (const t of req.tables ?? []) tables.set(tableKey(t), a?.tables.get(tableKey(t)) ?? null);
  return { columns, types, tables };
}

function copyColumns(
  table: TableInfo,
  names: readonly string[] | null,
): TableInfo['columns'] | undefined {
  if (!names) return table.columns;
  const out: TableInfo['columns'][number][] = [];
  for (const n of names) {
    const c = table.columns.find((x) => x.name === n);
    if (!c) return undefined;
    out.push(c);
  }
  return out;
}

function portalFields(ref: PortalRef): readonly FieldDescription[] | undefined {
  if (ref.fields) return ref.fields;
  const fields = ref.stmt?.fields;
  if (!fields) return undefined;
  const fmt = (i: number) => (ref.formats.length === 1 ? ref.formats[0] : ref.formats[i]) ?? 0;
  return fields.map((fd, i) => ({ ...fd, format: fmt(i) }));
}

function tallyOf(run: CommandRun): MaskTally {
  if (!run.masked) run.masked = new MaskTally();
  return run.masked;
}

function refOf(head: Pending | undefined): PortalRef | QueryRef | undefined {
  return head && (head.kind === 'query' || head.kind === 'execute') ? head.ref : undefined;
}

function runOf(head: Pending | undefined): CommandRun | undefined {
  return head && (head.kind === 'query' || head.kind === 'execute') ? head.run : undefined;
}

function defaultSpec(binary: boolean): CopySpec {
  return {
    format: binary ? 'binary' : 'text',
    delimiter: '\t',
    nullString: '\\N',
    quote: '"',
    escape: '"',
    header: false,
    relation: null,
    columns: null,
    tables: [],
  };
}

function isDdl(text: string): boolean {
  const a = analyzeSql(text);
  if (!a.ok) return false;
  return a.statements.some(
    (s) => s.tables.some((t) => t.access === 'ddl') || /^(CREATE|ALTER|DROP)\b/.test(s.kind),
  );
}

function unexpected(what: string): GatewayError {
  return new GatewayError(
    'GW_MASKING_FAILED',
    `masking failed: ${what}; the result was not delivered`,
  );
}
