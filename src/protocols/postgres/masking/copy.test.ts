import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initSqlParser } from '../../../sql/analyze.ts';
import {
  copySpecs,
  escapeText,
  maskCopyRow,
  maskCsvRow,
  maskTextRow,
  parseCsvFields,
  splitTextFields,
  unescapeText,
} from './copy.ts';
import { OID } from './pg-types.ts';
import { buildRowPlan, type PlanColumn } from './plan.ts';
import { maskingFixture } from './testing.ts';

before(async () => {
  await initSqlParser();
});

const RULES = `- { name: ssn, columns: ['*.ssn'] }
- { name: emails, types: [email], style: hash }`;
const col = (column: string, typeOid: number = OID.text, format = 0): PlanColumn => ({
  name: { schema: 'public', table: 'patients', column },
  fieldName: column,
  typeOid,
  format,
});

describe('COPY statements', () => {
  it('finds each COPY … TO STDOUT with its format, options, table and columns', () => {
    const [a, b, c] = copySpecs(
      "COPY patients (ssn, email) TO STDOUT WITH (FORMAT csv, DELIMITER ';', NULL 'x', HEADER); COPY public.billing TO STDOUT; COPY (SELECT 1 FROM visits) TO STDOUT (FORMAT binary)",
    );
    assert.deepEqual(
      {
        format: a?.format,
        d: a?.delimiter,
        n: a?.nullString,
        h: a?.header,
        r: a?.relation,
        c: a?.columns,
      },
      {
        format: 'csv',
        d: ';',
        n: 'x',
        h: true,
        r: { schema: null, name: 'patients' },
        c: ['ssn', 'email'],
      },
    );
    assert.deepEqual(
      { format: b?.format, d: b?.delimiter, n: b?.nullString, r: b?.relation },
      { format: 'text', d: '\t', n: '\\N', r: { schema: 'public', name: 'billing' } },
    );
    assert.equal(c?.format, 'binary');
    assert.equal(c?.relation, null);
    assert.deepEqual(
      c?.tables.map((t) => t.name),
      ['visits'],
    );
  });

  it('skips COPY FROM and COPY to a file', () => {
    assert.deepEqual(copySpecs("COPY t FROM STDIN; COPY t TO '/tmp/x'; SELECT 1"), []);
  });

  it('reads old-style options (CSV HEADER)', () => {
    const [s] = copySpecs('copy billing to stdout with csv header');
    assert.equal(s?.format, 'csv');
    assert.equal(s?.header, true);
    assert.equal(s?.delimiter, ',');
  });
});

describe('COPY text rows', () => {
  it('splits on unescaped delimiters and round-trips escapes', () => {
    assert.deepEqual(splitTextFields('a\\tb\tc\\\\\t\\N', '\t'), ['a\\tb', 'c\\\\', '\\N']);
    assert.equal(unescapeText('line\\none\\ttab\\\\back'), 'line\none\ttab\\back');
    const v = 'x\ty\nz\\w';
    assert.equal(unescapeText(escapeText(v, '\t')), v);
  });

  it('masks mapped columns and findings, keeps NULLs and untouched fields byte for byte', () => {
    const { rules, ctx } = maskingFixture(RULES);
    const plan = buildRowPlan([col('id', OID.int4), col('ssn'), col('notes'), col('email')], rules);
    assert.ok(plan);
    const [spec] = copySpecs('COPY patients (id, ssn, notes, email) TO STDOUT');
    assert.ok(spec);
    const out = maskTextRow('1\t137-23-1379\tcall\\tme a@b.io\t\\N\n', spec, plan, ctx);
    assert.match(out ?? '', /^1\t\*\*\*\*\tcall\\tme tok_[0-9a-f]{24}\t\\N\n$/);
    assert.equal(maskTextRow('2\t\\N\tplain\t\\N\n', spec, plan, ctx), null);
  });
});

describe('COPY CSV rows', () => {
  it('parses quoted fields with doubled quotes and delimiters inside', () => {
    const [spec] = copySpecs('COPY t TO STDOUT (FORMAT csv)');
    assert.ok(spec);
    assert.deepEqual(
      parseCsvFields('1,"a, ""b""",,""', spec).map((f) => [f.value, f.quoted]),
      [
        ['1', false],
        ['a, "b"', true],
        ['', false],
        ['', true],
      ],
    );
  });

  it('masks and re-quotes changed fields only; an unquoted empty field stays NULL', () => {
    const { rules, ctx } = maskingFixture(RULES);
    const plan = buildRowPlan([col('id', OID.int4), col('ssn'), col('email')], rules);
    assert.ok(plan);
    const [spec] = copySpecs('COPY patients (id, ssn, email) TO STDOUT (FORMAT csv)');
    assert.ok(spec);
    assert.equal(maskCsvRow('1,137-23-1379,\n', spec, plan, ctx), '1,"****",\n');
    const out = maskCsvRow('2,"137-23-1379","x a@b.io, y"\n', spec, plan, ctx) ?? '';
    assert.match(out, /^2,"\*\*\*\*","x tok_[0-9a-f]{24}, y"\n$/);
  });
});

describe('COPY binary rows', () => {
  it('masks text fields through the binary value path and keeps the header', () => {
    const { rules, ctx } = maskingFixture(RULES);
    const plan = buildRowPlan([col('id', OID.int4, 1), col('ssn', OID.text, 1)], rules);
    assert.ok(plan);
    const [spec] = copySpecs('COPY patients (id, ssn) TO STDOUT (FORMAT binary)');
    assert.ok(spec);
    const header = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
    const id = Buffer.alloc(4);
    id.writeInt32BE(1);
    const field = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
    const row = Buffer.concat([
      header,
      Buffer.from([0, 2]),
      field(id),
      field(Buffer.from('137-23-1379')),
    ]);
    const out = Buffer.from(maskCopyRow(row, spec, plan, ctx) as Uint8Array);
    assert.deepEqual(out.subarray(0, 19), header);
    assert.equal(out.subarray(19 + 2 + 8 + 4).toString(), '****');
    assert.equal(maskCopyRow(Buffer.from([0xff, 0xff]), spec, plan, ctx), null, 'trailer passes');
  });
});
