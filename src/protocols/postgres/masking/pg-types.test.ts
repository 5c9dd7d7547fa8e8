import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeNumeric, OID, valueKind } from './pg-types.ts';

function numeric(ndigits: number[], weight: number, sign: number, dscale: number): Uint8Array {
  const b = Buffer.alloc(8 + ndigits.length * 2);
  b.writeInt16BE(ndigits.length, 0);
  b.writeInt16BE(weight, 2);
  b.writeUInt16BE(sign, 4);
  b.writeInt16BE(dscale, 6);
  for (const [i, d] of ndigits.entries()) b.writeInt16BE(d, 8 + i * 2);
  return b;
}

describe('PostgreSQL types for masking', () => {
  it('classifies text-like, JSON, scalar and opaque values per format', () => {
    assert.ok(valueKind(OID.text, 0).wholeOk);
    assert.ok(valueKind(OID.varchar, 1).wholeOk);
    assert.ok(valueKind(OID.jsonb, 1).jsonbPrefix);
    assert.ok(valueKind(OID.jsonb, 0).json && !valueKind(OID.jsonb, 0).jsonbPrefix);
    assert.ok(!valueKind(OID.int4, 0).wholeOk && !valueKind(OID.int4, 0).opaque);
    assert.ok(valueKind(OID.int4, 1).decode);
    assert.ok(valueKind(OID.bytea, 1).opaque);
    assert.ok(valueKind(OID.uuid, 1).decode, 'uuid is decoded for scanning, never rewritten');
    assert.ok(valueKind(OID.textArray, 0).scanOk && !valueKind(OID.textArray, 0).wholeOk);
  });

  it('uses catalog facts for user types (citext, domains over text)', () => {
    const citext = { base: 17000, category: 'S', send: 'citextsend' };
    assert.ok(valueKind(17000, 1, citext).wholeOk);
    assert.ok(valueKind(17001, 1, { base: OID.text, category: 'S', send: 'textsend' }).wholeOk);
    assert.ok(valueKind(17002, 1, { base: 17002, category: 'U', send: 'x_send' }).opaque);
  });

  it('decodes binary scalars to their text form', () => {
    const d = (oid: number, b: Buffer) => valueKind(oid, 1).decode?.(b);
    const i8 = Buffer.alloc(8);
    i8.writeBigInt64BE(4111111111111111n);
    assert.equal(d(OID.int8, i8), '4111111111111111');
    const date = Buffer.alloc(4);
    date.writeInt32BE(-3579);
    assert.equal(d(OID.date, date), '1990-03-15');
    const ts = Buffer.alloc(8);
    ts.writeBigInt64BE(86_400_000_000n + 1_500_000n);
    assert.equal(d(OID.timestamptz, ts), '2000-01-02 00:00:01.500');
    assert.equal(
      d(OID.uuid, Buffer.from('00112233445566778899aabbccddeeff', 'hex')),
      '00112233-4455-6677-8899-aabbccddeeff',
    );
    assert.throws(() => d(OID.int4, Buffer.alloc(3)));
  });

  it('decodes binary numeric', () => {
    assert.equal(decodeNumeric(numeric([1, 2345], 1, 0, 0)), '12345');
    assert.equal(decodeNumeric(numeric([12, 3400], 0, 0x4000, 2)), '-12.34');
    assert.equal(decodeNumeric(numeric([5], -1, 0, 4)), '0.0005');
    assert.equal(decodeNumeric(numeric([500], -2, 0, 6)), '0.000005');
    assert.equal(decodeNumeric(numeric([1], 2, 0, 0)), '100000000');
    assert.equal(decodeNumeric(numeric([], 0, 0xc000, 0)), 'NaN');
  });
});
