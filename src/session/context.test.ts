import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { newId } from './context.ts';

describe('newId', () => {
  test('is the prefix, 48 bits of milliseconds and 72 random bits, in hex', () => {
    const before = Date.now();
    const id = newId('c');
    const after = Date.now();
    assert.match(id, /^c_[0-9a-f]{30}$/);
    const ms = Number.parseInt(id.slice(2, 14), 16);
    assert.ok(ms >= before && ms <= after);
  });

  test('gives distinct, time-ordered ids across many pool refills', () => {
    const ids = Array.from({ length: 5000 }, () => newId('s'));
    assert.equal(new Set(ids).size, ids.length);
    const times = ids.map((id) => id.slice(2, 14));
    assert.deepEqual(times, [...times].sort());
  });
});
