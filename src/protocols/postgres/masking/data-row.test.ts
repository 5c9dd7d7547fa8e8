import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeBackend } from '../codec/backend-parser.ts';
import { Framer } from '../codec/framer.ts';
import { encodeDataRow } from '../codec/serializer.ts';
import { maskDataRow } from './data-row.ts';
import { OID } from './pg-types.ts';
import { buildRowPlan, type PlanColumn } from './plan.ts';
import { maskingFixture } from './testing.ts';

const enc = (s: string) => Buffer.from(s, 'utf8');
const name = (table: string, column: string) => ({ schema: 'public', table, column });

function values(msg: Uint8Array): (string | null)[] {
  const { buf, frames } = new Framer({ maxFrame: 1 << 20, typed: true }).push(msg);
  const m = decodeBackend(buf, frames[0] as never);
  assert.equal(m.type, 'DataRow');
  return m.type === 'DataRow'
    ? m.values.map((v) => (v === null ? null : Buffer.from(v).toString('utf8')))
    : [];
}

const RULES = `- { name: ssn, columns: ['*.ssn'] }
- { name: cards, columns: [billing.card_number], style: last4 }
- { name: dob, columns: [patients.date_of_birth] }
- { name: emails, types: [email], style: hash }`;

describe('DataRow masking', () => {
  const cols: PlanColumn[] = [
    { name: name('patients', 'id'), fieldName: 'id', typeOid: OID.int4, format: 0 },
    { name: name('patients', 'ssn'), fieldName: 'x', typeOid: OID.text, format: 0 },
    { name: null, fieldName: 'contact', typeOid: OID.text, format: 0 },
    {
      name: name('patients', 'date_of_birth'),
      fieldName: 'date_of_birth',
      typeOid: OID.date,
      format: 0,
    },
    {
      name: name('billing', 'card_number'),
      fieldName: 'card_number',
      typeOid: OID.varchar,
      format: 0,
    },
  ];

  it('re-encodes only changed values, keeping NULLs and column count', () => {
    const { rules, ctx } = maskingFixture(RULES);
    const plan = buildRowPlan(cols, rules);
    assert.ok(plan);
    const row = encodeDataRow([
      enc('7'),
      enc('137-23-1379'),
      enc('mail amelia@example.com now'),
      enc('1990-05-01'),
      enc('4111 1111 1111 1111'),
    ]);
    const out = maskDataRow(row, plan, ctx);
    assert.ok(out);
    const v = values(out);
    assert.equal(v[0], '7');
    assert.equal(v[1], '****', 'aliased column still masked by its real name');
    assert.match(v[2] ?? '', /^mail tok_[0-9a-f]{24} now$/, 'findings masked in a computed column');
    assert.equal(v[3], null, 'a date cannot hold ****: NULL');
    assert.equal(v[4], '**** **** **** 1111');
    const ev = ctx.tally.toEvent('mv_x');
    assert.equal(ev.values, 4);
    assert.deepEqual(ev.types, [{ type: 'email', rule: 'emails', findings: 1 }]);
    assert.ok(
      ev.columns.some((c) => c.column === 'public.patients.date_of_birth' && c.nulled === 1),
    );
    assert.ok(!JSON.stringify(ev).includes('137-23-1379'));
  });

  it('returns null (original bytes go out) when nothing changes', () => {
    const { rules, ctx } = maskingFixture(RULES);
    const plan = buildRowPlan(cols, rules);
    assert.ok(plan);
    const row = encodeDataRow([enc('1'), null, enc('nothing here'), null, null]);
    assert.equal(maskDataRow(row, plan, ctx), null);
  });

  it('has no plan at all when no column has an action', () => {
    const { rules } = maskingFixture(`- { name: ssn, columns: ['*.ssn'] }`);
    assert.equal(
      buildRowPlan(
        [
          { name: name('visits', 'notes'), fieldName: 'notes', typeOid: 25, format: 0 },
          { name: null, fieldName: '?column?', typeOid: 25, format: 0 },
        ],
        rules,
      ),
      null,
    );
  });

  it('masks binary text, varchar and jsonb (with its version byte), decodes binary ints', () => {
    const { rules, ctx } = maskingFixture(RULES);
    const plan = buildRowPlan(
      [
        { name: name('patients', 'ssn'), fieldName: 'ssn', typeOid: OID.text, format: 1 },
        { name: null, fieldName: 'doc', typeOid: OID.jsonb, format: 1 },
        { name: null, fieldName: 'n', typeOid: OID.int8, format: 1 },
        { name: null, fieldName: 'j', typeOid: OID.json, format: 0 },
      ],
      rules,
    );
    assert.ok(plan);
    const jsonb = Buffer.concat([
      Buffer.from([1]),
      enc('{"email": "amelia@example.com", "n": 12}'),
    ]);
    const int8 = Buffer.alloc(8);
    int8.writeBigInt64BE(42n);
    const out = maskDataRow(
      encodeDataRow([enc('137-23-1379'), jsonb, int8, enc('["a@b.io", 1.50]')]),
      plan,
      ctx,
    );
    assert.ok(out);
    const { buf, frames } = new Framer({ maxFrame: 1 << 20, typed: true }).push(out);
    const m = decodeBackend(buf, frames[0] as never);
    assert.ok(m.type === 'DataRow');
    assert.equal(Buffer.from(m.values[0] as Uint8Array).toString(), '****');
    const doc = m.values[1] as Uint8Array;
    assert.equal(doc[0], 1, 'jsonb version byte kept');
    const parsed = JSON.parse(Buffer.from(doc.subarray(1)).toString());
    assert.match(parsed.email, /^tok_/);
    assert.equal(parsed.n, 12);
    assert.deepEqual(Buffer.from(m.values[2] as Uint8Array), int8, 'binary int unchanged');
    const j = JSON.parse(Buffer.from(m.values[3] as Uint8Array).toString());
    assert.match(j[0], /^tok_/);
    assert.equal(
      Buffer.from(m.values[3] as Uint8Array)
        .toString()
        .endsWith(', 1.50]'),
      true,
      'untouched tokens kept byte for byte',
    );
  });

  it('fails closed on binary values it cannot read: NULL, or GW_MASKING_FAILED with on_error fail', () => {
    const bytea: PlanColumn = {
      name: name('patients', 'ssn'),
      fieldName: 'ssn',
      typeOid: OID.bytea,
      format: 1,
    };
    const m = maskingFixture(`- { name: ssn, columns: ['*.ssn'] }`);
    const plan = buildRowPlan([bytea], m.rules);
    assert.ok(plan);
    assert.deepEqual(values(maskDataRow(encodeDataRow([enc('137')]), plan, m.ctx) as Uint8Array), [
      null,
    ]);
    const f = maskingFixture(`- { name: ssn, columns: ['*.ssn'], on_error: fail }`);
    const planF = buildRowPlan([bytea], f.rules);
    assert.ok(planF);
    assert.throws(
      () => maskDataRow(encodeDataRow([enc('137')]), planF, f.ctx),
      (err: { code?: string; clientMessage?: string }) =>
        err.code === 'GW_MASKING_FAILED' &&
        !String(err.clientMessage).includes('137') &&
        /public\.patients\.ssn/.test(String(err.clientMessage)),
    );
    assert.equal(f.ctx.tally.toEvent('v').failed?.rule, 'ssn');
  });

  it('a detector error masks the value (or fails), never passes it through', () => {
    const m = maskingFixture(`- { name: emails, types: [email] }`, { throwOn: 'boom' });
    const plan = buildRowPlan(
      [{ name: null, fieldName: 'c', typeOid: OID.text, format: 0 }],
      m.rules,
    );
    assert.ok(plan);
    assert.deepEqual(
      values(maskDataRow(encodeDataRow([enc('boom a@b.io')]), plan, m.ctx) as Uint8Array),
      [null],
    );
  });

  it('a finding inside a non-text column NULLs it (text format)', () => {
    const m = maskingFixture(`- { name: ssn, types: [us_ssn] }`);
    const plan = buildRowPlan(
      [{ name: null, fieldName: 'arr', typeOid: 1186, format: 0 }],
      m.rules,
    );
    assert.ok(plan);
    assert.deepEqual(
      values(maskDataRow(encodeDataRow([enc('137-23-1379')]), plan, m.ctx) as Uint8Array),
      [null],
    );
  });

  it('refuses a row whose column count differs from its description', () => {
    const { rules, ctx } = maskingFixture(RULES);
    const plan = buildRowPlan(cols, rules);
    assert.ok(plan);
    assert.throws(() => maskDataRow(encodeDataRow([enc('1')]), plan, ctx), /GW_MASKING_FAILED/);
  });
});
