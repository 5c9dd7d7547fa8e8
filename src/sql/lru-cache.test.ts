import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LruCache } from './lru-cache.ts';

describe('LruCache', () => {
  test('evicts the least recently used entry past maxEntries', () => {
    const cache = new LruCache<number>({ maxEntries: 2, maxWeight: 100, maxEntryWeight: 100 });
    cache.set('a', 1);
    cache.set('b', 2);
    assert.equal(cache.get('a'), 1);
    cache.set('c', 3);
    assert.equal(cache.get('b'), undefined);
    assert.equal(cache.get('a'), 1);
    assert.equal(cache.get('c'), 3);
    assert.equal(cache.size, 2);
  });

  test('keeps the summed UTF-8 key weight under maxWeight', () => {
    const cache = new LruCache<number>({ maxEntries: 10, maxWeight: 6, maxEntryWeight: 6 });
    cache.set('aa', 1);
    cache.set('éé', 2); // 4 bytes
    assert.equal(cache.weight, 6);
    cache.set('b', 3);
    assert.equal(cache.get('aa'), undefined);
    assert.equal(cache.weight, 5);
  });

  test('never stores keys heavier than maxEntryWeight', () => {
    const cache = new LruCache<number>({ maxEntries: 10, maxWeight: 100, maxEntryWeight: 3 });
    cache.set('abcd', 1);
    assert.equal(cache.get('abcd'), undefined);
    assert.equal(cache.size, 0);
  });

  test('replacing a key updates its value and weight; delete and clear empty it', () => {
    const cache = new LruCache<number>({ maxEntries: 10, maxWeight: 100, maxEntryWeight: 100 });
    cache.set('k', 1);
    cache.set('k', 2);
    assert.equal(cache.get('k'), 2);
    assert.equal(cache.weight, 1);
    cache.delete('k');
    assert.equal(cache.size, 0);
    cache.set('x', 1);
    cache.clear();
    assert.equal(cache.size + cache.weight, 0);
  });

  test('evicts in least-recently-used order however often the newest entry is read', () => {
    const cache = new LruCache<number>({ maxEntries: 3, maxWeight: 100, maxEntryWeight: 100 });
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('c', 3);
    for (let i = 0; i < 3; i++) assert.equal(cache.get('c'), 3);
    assert.equal(cache.get('a'), 1); // order now b, c, a
    assert.equal(cache.get('a'), 1);
    cache.delete('a');
    cache.set('d', 4); // b, c, d
    assert.equal(cache.get('b'), 2); // c, d, b
    cache.set('e', 5); // evicts c
    assert.deepEqual(
      ['b', 'c', 'd', 'e'].map((k) => cache.get(k)),
      [2, undefined, 4, 5],
    );
  });
});
