import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeDataRow } from '../codec/serializer.ts';
import { ChunkWriter } from './chunk-writer.ts';
import { maskDataRow, maskDataRowInto } from './data-row.ts';
import { OID } from './pg-types.ts';
import { buildRowPlan } from './plan.ts';
import { maskingFixture } from './testing.ts';

const enc = (s: string) => Buffer.from(s, 'utf8');

describe('ChunkWriter', () => {
  it('passes a batch with nothing replaced on as the batch itself', () => {
    const src = enc('abcdefgh');
    const w = new ChunkWriter();
    w.begin(src, 2);
    const out = w.finish(6);
    assert.equal(out.buffer, src.buffer, 'no copy');
    assert.equal(Buffer.from(out).toString(), 'cdef');
  });

  it('copies unchanged ranges around replacements and grows as needed', () => {
    const src = enc('aaaa|bbbb|cccc');
    const w = new ChunkWriter();
    w.begin(src, 0);
    w.insert(5, enc('X'.repeat(10_000)));
    w.skip(9);
    const at = w.reserve(10, 3);
    w.buffer.write('YYY', at);
    w.skip(14);
    assert.equal(Buffer.from(w.finish(14)).toString(), `aaaa|${'X'.repeat(10_000)}|YYY`);
    w.begin(src, 10);
    assert.equal(Buffer.from(w.finish(14)).toString(), 'cccc', 'empty again after finish');
  });

  it('gives back an unwritten reservation: only source bytes go out', () => {
    const src = enc('aaaa|bbbb');
    const w = new ChunkWriter();
    w.begin(src, 0);
    w.unreserve(w.reserve(5, 100));
    assert.equal(Buffer.from(w.finish(9)).toString(), 'aaaa|bbbb');
  });
});

describe('maskDataRowInto', () => {
  it('writes the same bytes as maskDataRow, in place of the frames that changed', () => {
    const { rules, ctx } = maskingFixture(`- { name: emails, types: [email], style: hash }`);
    const plan = buildRowPlan(
      [
        { name: null, fieldName: 'id', typeOid: OID.int4, format: 0 },
        { name: null, fieldName: 'contact', typeOid: OID.text, format: 0 },
      ],
      rules,
    );
    assert.ok(plan);
    const rows = [
      encodeDataRow([enc('1'), enc('mail a@example.com')]),
      encodeDataRow([enc('2'), enc('nothing')]),
      encodeDataRow([enc('3'), null]),
      encodeDataRow([enc('4'), enc('b@example.org and c@example.net')]),
    ];
    const batch = Buffer.concat([enc('Z'), ...rows, enc('Q')]);
    const w = new ChunkWriter();
    w.begin(batch, 0);
    let at = 1;
    const expected: Uint8Array[] = [enc('Z')];
    for (const r of rows) {
      const changed = maskDataRowInto(batch, at, at + r.length, plan, ctx, w);
      const alone = maskDataRow(r, plan, ctx);
      assert.equal(changed, alone !== null);
      expected.push(alone ?? r);
      at += r.length;
    }
    expected.push(enc('Q'));
    assert.deepEqual(Buffer.from(w.finish(batch.length)), Buffer.concat(expected));
  });
});
