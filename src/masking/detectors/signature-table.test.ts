import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ABSENT, SignatureTable } from './signature-table.ts';

test('answers as a Map would, across collisions and starting over when half full', () => {
  const key = fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }));
  fc.assert(
    fc.property(fc.array(fc.tuple(key, fc.nat()), { maxLength: 1500 }), (ops) => {
      const table = new SignatureTable();
      let model = new Map<string, number>();
      for (const [[a, b], v] of ops) {
        const k = `${a},${b}`;
        assert.equal(table.get(a, b), model.get(k) ?? ABSENT);
        if (model.has(k)) continue;
        if (table.full) model = new Map();
        table.set(a, b, v);
        model.set(k, v);
        assert.equal(table.get(a, b), v);
      }
    }),
    { numRuns: 200 },
  );
});
