import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { ColumnName } from '../../../masking/rules.ts';
import { initSqlParser } from '../../../sql/analyze.ts';
import { silentLogger } from '../../../telemetry/logger.ts';
import { decodeBackend } from '../codec/backend-parser.ts';
import { Framer } from '../codec/framer.ts';
import { BACKEND, type FieldDescription } from '../codec/messages.ts';
import {
  encodeBackendRaw,
  encodeBindComplete,
  encodeCommandComplete,
  encodeDataRow,
  encodeErrorResponse,
  encodeParseComplete,
  encodeReadyForQuery,
  encodeRowDescription,
} from '../codec/serializer.ts';
import { type CommandRun, ResponseTracker } from '../tracker.ts';
import type { CatalogAnswer, CatalogPort, CatalogRequest, TableInfo } from './catalog.ts';
import { columnKey, tableKey } from './catalog.ts';
import { OID } from './pg-types.ts';
import { ResultMasker } from './result-masker.ts';
import { maskingFixture } from './testing.ts';

before(async () => {
  await initSqlParser();
});

const PATIENTS = 16400;
const NAMES = new Map<string, ColumnName>([
  [columnKey(PATIENTS, 1), { schema: 'public', table: 'patients', column: 'id' }],
  [columnKey(PATIENTS, 6), { schema: 'public', table: 'patients', column: 'ssn' }],
]);
const TABLE: TableInfo = {
  schema: 'public',
  table: 'patients',
  columns: [
    { name: 'id', typeOid: OID.int4 },
    { name: 'ssn', typeOid: OID.text },
  ],
};

class FakeCatalog implements CatalogPort {
  loads: CatalogRequest[] = [];
  invalidations = 0;
  fail = false;
  readonly #cache = new Map<string, unknown>();
  peekColumn(t: number, n: number) {
    return this.#cache.get(columnKey(t, n)) as ColumnName | undefined;
  }
  peekType() {
    return undefined;
  }
  peekTable(t: { schema: string | null; name: string }) {
    return this.#cache.get(tableKey(t)) as TableInfo | undefined;
  }
  async load(req: CatalogRequest): Promise<CatalogAnswer> {
    this.loads.push(req);
    if (this.fail) throw new Error('catalog down');
    const columns = new Map<string, ColumnName>();
    for (const [t, n] of req.columns ?? []) {
      const v = NAMES.get(columnKey(t, n));
      if (v) columns.set(columnKey(t, n), v);
    }
    const tables = new Map<string, TableInfo>();
    for (const t of req.tables ?? []) if (t.name === 'patients') tables.set(tableKey(t), TABLE);
    for (const [k, v] of [...columns, ...tables]) this.#cache.set(k, v);
    return { columns, types: new Map(), tables };
  }
  invalidate() {
    this.invalidations++;
    this.#cache.clear();
  }
}

const field = (
  name: string,
  attr: number,
  typeOid: number = OID.text,
  format = 0,
): FieldDescription => ({
  name,
  tableOid: attr === 0 ? 0 : PATIENTS,
  columnAttr: attr,
  typeOid,
  typeSize: -1,
  typeModifier: -1,
  format,
});
const text = (s: string) => Buffer.from(s);

function setup(
  rules = `- { name: ssn, columns: [patients.ssn] }\n- { name: emails, types: [email] }`,
) {
  const { engine, rules: session } = maskingFixture(rules);
  const catalog = new FakeCatalog();
  const masker = new ResultMasker({
    engine,
    rules: session,
    catalog,
    logger: silentLogger,
    sessionId: 's_1',
  });
  const completed: { run: CommandRun; outcome: string }[] = [];
  const tracker = new ResponseTracker((run, outcome) => completed.push({ run, outcome }));
  return { masker, catalog, tracker, completed };
}

const newRun = (): CommandRun => ({
  commandId: 'c_1',
  startedAt: 0,
  tags: [],
  rows: 0,
  bytes: 0,
  error: undefined,
});

/** What the relay does: frames through masker then tracker, waiting out stalls. */
async function relay(
  h: ReturnType<typeof setup>,
  ...messages: Uint8Array[]
): Promise<{ out: Buffer; stalls: number; failed?: string }> {
  const { buf, frames } = new Framer({ maxFrame: 1 << 20, typed: true }).push(
    Buffer.concat(messages),
  );
  const parts: Uint8Array[] = [];
  let stalls = 0;
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i] as (typeof frames)[number];
    const act = h.masker.onFrame(h.tracker.head, buf, f);
    if (act?.kind === 'stall') {
      stalls++;
      await act.until;
      i--;
      continue;
    }
    if (act?.kind === 'fail') return { out: Buffer.concat(parts), stalls, failed: act.error.code };
    const bytes = act?.kind === 'replace' ? act.bytes : buf.subarray(f.start, f.end);
    h.tracker.onFrame(bytes, { code: f.code, start: 0, end: bytes.length, body: 5 });
    parts.push(bytes);
  }
  return { out: Buffer.concat(parts), stalls };
}

function rows(out: Buffer): string[][] {
  const { buf, frames } = new Framer({ maxFrame: 1 << 20, typed: true }).push(out);
  return frames
    .filter((f) => f.code === BACKEND.DataRow)
    .map((f) => {
      const m = decodeBackend(buf, f);
      return m.type === 'DataRow'
        ? m.values.map((v) => (v === null ? 'NULL' : Buffer.from(v).toString()))
        : [];
    });
}

const codes = (out: Buffer) =>
  new Framer({ maxFrame: 1 << 20, typed: true })
    .push(out)
    .frames.map((f) => String.fromCharCode(f.code))
    .join('');

describe('result masking state machine', () => {
  it('simple query: holds the result until the catalog names aliased columns, then masks', async () => {
    const h = setup();
    const run = newRun();
    h.tracker.expect({
      kind: 'query',
      run,
      ref: h.masker.query('SELECT ssn AS x, id FROM patients'),
    });
    const r = await relay(
      h,
      encodeRowDescription([field('x', 6), field('id', 1, OID.int4)]),
      encodeDataRow([text('137-23-1379'), text('1')]),
      encodeCommandComplete('SELECT 1'),
      encodeReadyForQuery('I'),
    );
    assert.equal(r.stalls, 1);
    assert.deepEqual(rows(r.out), [['****', '1']]);
    assert.equal(codes(r.out), 'TDCZ');
    assert.equal(run.masked?.toEvent('v').values, 1);

    const run2 = newRun();
    h.tracker.expect({ kind: 'query', run: run2, ref: h.masker.query('SELECT ssn FROM patients') });
    const r2 = await relay(
      h,
      encodeRowDescription([field('ssn', 6)]),
      encodeDataRow([text('1')]),
      encodeCommandComplete('SELECT 1'),
      encodeReadyForQuery('I'),
    );
    assert.equal(r2.stalls, 0, 'cached');
    assert.equal(h.catalog.loads.length, 1);
  });

  it('computed columns are scanned without any catalog lookup', async () => {
    const h = setup(`- { name: emails, types: [email] }`);
    h.tracker.expect({ kind: 'query', run: newRun(), ref: h.masker.query("SELECT 'x'") });
    const r = await relay(
      h,
      encodeRowDescription([field('c', 6)]),
      encodeDataRow([text('to a@b.io')]),
      encodeCommandComplete('SELECT 1'),
      encodeReadyForQuery('I'),
    );
    assert.deepEqual(rows(r.out), [['to ****']]);
    assert.equal(h.catalog.loads.length, 0);
  });

  it('extended: a portal takes its statement description and the Bind result formats', async () => {
    const h = setup();
    h.masker.parsed('s1');
    h.tracker.expect({ kind: 'parse' });
    h.tracker.expect({ kind: 'describe', ref: h.masker.describe('S', 's1') });
    h.masker.bound('', 's1', [1], 'SELECT ssn FROM patients');
    h.tracker.expect({ kind: 'bind' });
    const ex = h.masker.execute('', 'SELECT ssn FROM patients');
    assert.equal(ex.describeFirst, false);
    h.tracker.expect({ kind: 'execute', run: newRun(), ref: ex.ref });
    h.tracker.expect({ kind: 'sync', inject: null });
    const r = await relay(
      h,
      encodeParseComplete(),
      encodeBackendRaw(BACKEND.ParameterDescription, Buffer.from([0, 0])),
      encodeRowDescription([field('ssn', 6)]),
      encodeBindComplete(),
      encodeDataRow([text('137-23-1379')]),
      encodeCommandComplete('SELECT 1'),
      encodeReadyForQuery('I'),
    );
    assert.deepEqual(rows(r.out), [['****']]);
  });

  it('extended: an undescribed portal is described by the gateway, and that answer is dropped', async () => {
    const h = setup();
    h.masker.bound('p', 'prepared-elsewhere', [], 'EXECUTE x');
    const ex = h.masker.execute('p', 'EXECUTE x');
    assert.equal(ex.describeFirst, true);
    h.tracker.expect({ kind: 'bind' });
    h.tracker.expect({ kind: 'describe', ref: h.masker.internalDescribe(ex.ref) });
    h.tracker.expect({ kind: 'execute', run: newRun(), ref: ex.ref });
    h.tracker.expect({ kind: 'sync', inject: null });
    const r = await relay(
      h,
      encodeBindComplete(),
      encodeRowDescription([field('ssn', 6)]),
      encodeDataRow([text('137-23-1379')]),
      encodeCommandComplete('SELECT 1'),
      encodeReadyForQuery('I'),
    );
    assert.equal(codes(r.out), '2DCZ', 'no RowDescription the client did not ask for');
    assert.deepEqual(rows(r.out), [['****']]);
  });

  it('a failed lookup fails closed: unresolved columns take the first column rule', async () => {
    const h = setup();
    h.catalog.fail = true;
    h.tracker.expect({
      kind: 'query',
      run: newRun(),
      ref: h.masker.query('SELECT id FROM patients'),
    });
    const r = await relay(
      h,
      encodeRowDescription([field('id', 1)]),
      encodeDataRow([text('1')]),
      encodeCommandComplete('SELECT 1'),
      encodeReadyForQuery('I'),
    );
    assert.deepEqual(rows(r.out), [['****']]);
  });

  it('DDL empties the catalog cache', () => {
    const h = setup();
    h.masker.query('ALTER TABLE patients RENAME COLUMN ssn TO ssn_old');
    assert.equal(h.catalog.invalidations, 1);
    h.masker.query('SELECT 1');
    assert.equal(h.catalog.invalidations, 1);
  });

  it('masks server errors and records the masked text in the tracker', async () => {
    const h = setup(`- { name: ids, types: [us_ssn] }`);
    const run = newRun();
    h.tracker.expect({ kind: 'query', run, ref: h.masker.query("SELECT '137-23-1379'::int") });
    const r = await relay(
      h,
      encodeErrorResponse({
        S: 'ERROR',
        C: '22P02',
        M: 'invalid input syntax for type integer: "137-23-1379"',
      }),
      encodeReadyForQuery('I'),
    );
    assert.ok(!r.out.toString('latin1').includes('137-23-1379'));
    assert.equal(run.error?.message, 'invalid input syntax for type integer: "****"');
  });

  it('COPY table TO STDOUT maps fields through the table columns', async () => {
    const h = setup();
    const run = newRun();
    h.tracker.expect({ kind: 'query', run, ref: h.masker.query('COPY patients TO STDOUT') });
    const copyOut = encodeBackendRaw(BACKEND.CopyOutResponse, Buffer.from([0, 0, 2, 0, 0, 0, 0]));
    const r = await relay(
      h,
      copyOut,
      encodeBackendRaw(BACKEND.CopyData, Buffer.from('1\t137-23-1379\n')),
      encodeBackendRaw(BACKEND.CopyDone, Buffer.alloc(0)),
      encodeCommandComplete('COPY 1'),
      encodeReadyForQuery('I'),
    );
    assert.equal(r.stalls, 1);
    assert.ok(r.out.toString().includes('1\t****\n'));
    assert.equal(run.masked?.toEvent('v').rows, 1);
  });

  it('COPY (query) over a table with column rules masks every field (fail closed)', async () => {
    const h = setup();
    h.tracker.expect({
      kind: 'query',
      run: newRun(),
      ref: h.masker.query('COPY (SELECT id FROM patients) TO STDOUT'),
    });
    const r = await relay(
      h,
      encodeBackendRaw(BACKEND.CopyOutResponse, Buffer.from([0, 0, 1, 0, 0])),
      encodeBackendRaw(BACKEND.CopyData, Buffer.from('1\n')),
      encodeBackendRaw(BACKEND.CopyDone, Buffer.alloc(0)),
      encodeCommandComplete('COPY 1'),
      encodeReadyForQuery('I'),
    );
    assert.ok(r.out.toString().includes('****\n'));
  });

  it('refuses fastpath results and rows without a description', async () => {
    const h = setup();
    h.tracker.expect({ kind: 'query', run: newRun(), ref: h.masker.query('SELECT 1') });
    const r = await relay(h, encodeDataRow([text('1')]));
    assert.equal(r.failed, 'GW_MASKING_FAILED');
  });
});
