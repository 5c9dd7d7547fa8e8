import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { canonicalJson, GENESIS_HASH, isKnownFrozen, quoteJson } from './canonical.ts';
import {
  COLUMN_KEYS,
  chainLink,
  columnsOfBody,
  prepareEvent,
  type StoredBody,
  sealEvent,
} from './event-codec.ts';

/** Canonical JSON written the plain way: keys sorted with Array.prototype.sort, recursively. */
function reference(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(reference).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const record = v as Record<string, unknown>;
    const members = Object.keys(record)
      .sort()
      .filter((k) => record[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${reference(record[k])}`);
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(v);
}

describe('canonicalJson', () => {
  test('sorts keys recursively and writes no whitespace', () => {
    const value = { b: [1, { d: true, c: null }], a: 'x', é: 1, A: { z: 1, y: [] } };
    assert.equal(
      canonicalJson(value),
      '{"A":{"y":[],"z":1},"a":"x","b":[1,{"c":null,"d":true}],"é":1}',
    );
  });

  test('orders keys by UTF-16 code units, as RFC 8785 does', () => {
    const value = { '\u{1F600}': 1, '\uFB33': 2, a: 3, '10': 4, '9': 5 };
    assert.equal(canonicalJson(value), '{"10":4,"9":5,"a":3,"\u{1F600}":1,"\uFB33":2}');
  });

  test('writes scalars as JSON.stringify does', () => {
    assert.equal(canonicalJson('a"b\\c\n\u0001'), JSON.stringify('a"b\\c\n\u0001'));
    assert.equal(canonicalJson(1e21), '1e+21');
    assert.equal(canonicalJson(-0), '0');
    assert.equal(canonicalJson(0.1), '0.1');
    assert.equal(canonicalJson(false), 'false');
    assert.equal(canonicalJson(null), 'null');
    assert.equal(canonicalJson('\uD800'), '"\\ud800"');
  });

  test('omits undefined members and uses toJSON', () => {
    assert.equal(canonicalJson({ a: undefined, b: 1 }), '{"b":1}');
    assert.equal(canonicalJson({ t: new Date(0) }), '{"t":"1970-01-01T00:00:00.000Z"}');
    assert.equal(
      canonicalJson(Object.assign(Object.create(null), { b: 1, a: 2 })),
      '{"a":2,"b":1}',
    );
  });

  test('refuses values it cannot write losslessly', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const bad of [
      Number.NaN,
      Number.POSITIVE_INFINITY,
      10n,
      Symbol('s'),
      () => 1,
      undefined,
      [undefined],
      cyclic,
      new Map(),
      new Uint8Array(2),
    ]) {
      assert.throws(() => canonicalJson(bad), TypeError);
    }
  });

  test('equals the plain sort-and-write reference on arbitrary JSON values', () => {
    const key = fc.oneof(
      fc.string(),
      fc.constantFrom('10', '9', 'a', 'é', '\u{1F600}', '__proto__'),
    );
    const json = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.string(),
        fc.integer(),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('value'), { maxLength: 5 }),
        fc.dictionary(key, tie('value'), { maxKeys: 20 }),
      ),
    })).value;
    fc.assert(
      fc.property(json, (v) => canonicalJson(v) === reference(v)),
      { numRuns: 2000 },
    );
  });

  test('allows the same object twice when it is not a cycle', () => {
    const shared = { x: 1 };
    assert.equal(canonicalJson({ a: shared, b: [shared] }), '{"a":{"x":1},"b":[{"x":1}]}');
  });

  test('chainLink is sha256 over the raw bytes of prevHash and the leaf', () => {
    const leaf = 'ab'.repeat(32);
    const expected = createHash('sha256')
      .update(Buffer.concat([Buffer.from(GENESIS_HASH, 'hex'), Buffer.from(leaf, 'hex')]))
      .digest('hex');
    assert.equal(chainLink(GENESIS_HASH, leaf), expected);
  });

  test('chainLink of values that are not two hashes hashes what their hex decodes to', () => {
    const plain = (prev: string, leaf: string) =>
      createHash('sha256')
        .update(Buffer.from(prev + leaf, 'hex'))
        .digest('hex');
    const h = 'cd'.repeat(32);
    for (const [prev, leaf] of [
      ['', h],
      [h.slice(1), h],
      [`${h}00`, h],
      [`${h.slice(0, 60)}zz00`, h],
      [h.toUpperCase(), h],
      [h, 'x'],
    ] as const) {
      assert.equal(chainLink(prev, leaf), plain(prev, leaf), `${prev} ${leaf}`);
    }
  });
});

describe('prepareEvent', () => {
  test('assembles the same body as canonicalJson of the full event', () => {
    const input = {
      type: 'command.requested',
      time: 1_700_000_000_123,
      sessionId: 's-1',
      connection: 'prod',
      actor: { kind: 'token', identity: 'agent', owner: 'alice', groups: ['dba'] },
      clientAddr: '127.0.0.1:5000',
      commandId: 'c-1',
      data: { text: 'select 1', params: [1, 'x', null], z: { b: 1, a: 2 } },
    } as const;
    const p = prepareEvent(input);
    const body = {
      v: 2,
      seq: 42,
      ts: new Date(input.time).toISOString(),
      type: input.type,
      sessionId: input.sessionId,
      connection: input.connection,
      actor: input.actor,
      clientAddr: input.clientAddr,
      commandId: input.commandId,
      data: input.data,
    };
    assert.equal(`${p.head}42${p.tail}`, canonicalJson(body));
  });

  test('COLUMN_KEYS lists the columns in the order a body implies them', () => {
    const row = sealEvent(prepareEvent({ type: 'session.started', time: 5 }), 1, GENESIS_HASH);
    const columns = columnsOfBody(JSON.parse(row.body) as StoredBody);
    assert.deepEqual(COLUMN_KEYS, Object.keys(columns));
  });

  test('fills nulls and an empty data object for absent fields', () => {
    const p = prepareEvent({ type: 'session.ended', time: 0 });
    const body = {
      v: 2,
      seq: 1,
      ts: '1970-01-01T00:00:00.000Z',
      type: 'session.ended',
      sessionId: null,
      connection: null,
      actor: null,
      clientAddr: null,
      commandId: null,
      data: {},
    };
    assert.equal(`${p.head}1${p.tail}`, canonicalJson(body));
  });

  test('rejects malformed events without echoing their content', () => {
    const secret = 'hunter2-secret-value';
    const bad: unknown[] = [
      { type: 'nope', time: 1 },
      { type: 'session.started', time: 1.5 },
      { type: 'session.started', time: 1, sessionId: 7 },
      { type: 'session.started', time: 1, actor: { kind: 'token' } },
      { type: 'session.started', time: 1, data: [secret] },
      { type: 'session.started', time: 1, data: { v: 10n, s: secret } },
    ];
    for (const e of bad) {
      assert.throws(
        () => prepareEvent(e as never),
        (err: Error) => err instanceof TypeError && !err.message.includes(secret),
      );
    }
  });
});

describe('quoteJson', () => {
  test('equals JSON.stringify for any string, escapes and lone surrogates included', () => {
    const odd = fc.constantFrom(
      '"',
      '\\',
      '\n',
      '\u0000',
      '\u001f',
      '\u007f',
      '\u2028',
      '\uD800',
      '\uDFFF',
      '\u{1F600}',
      'é',
    );
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 80 }),
      fc
        .array(fc.oneof(odd, fc.string({ maxLength: 4 })), { maxLength: 20 })
        .map((xs) => xs.join('')),
    );
    fc.assert(
      fc.property(text, (s) => quoteJson(s) === JSON.stringify(s)),
      { numRuns: 5000 },
    );
  });
});

describe('canonicalJson of frozen values', () => {
  const deepFreeze = <T>(v: T): T => {
    if (typeof v === 'object' && v !== null) {
      for (const x of Object.values(v)) deepFreeze(x);
      Object.freeze(v);
    }
    return v;
  };

  test('writes a deeply frozen value as it writes a mutable copy, again and again', () => {
    const v = deepFreeze({ b: [{ d: 1, c: 'x' }], a: { z: null, y: [true] } });
    const copy = JSON.parse(JSON.stringify(v)) as unknown;
    for (let i = 0; i < 3; i++) {
      assert.equal(canonicalJson(v), canonicalJson(copy));
      assert.equal(canonicalJson({ wrap: [v, v] }), canonicalJson({ wrap: [copy, copy] }));
    }
    assert.ok(isKnownFrozen(v));
  });

  test('sees changes below a frozen object that is not deeply frozen', () => {
    const inner = { n: 1 };
    const v = Object.freeze({ inner });
    assert.equal(canonicalJson(v), '{"inner":{"n":1}}');
    inner.n = 2;
    assert.equal(canonicalJson(v), '{"inner":{"n":2}}');
    assert.ok(!isKnownFrozen(v));
  });

  test('does not keep what a getter of a frozen object returned', () => {
    let n = 0;
    const v = Object.freeze({
      get n() {
        n++;
        return n;
      },
    });
    assert.equal(canonicalJson(v), '{"n":1}');
    assert.equal(canonicalJson(v), '{"n":2}');
  });

  test('still refuses a frozen value nested too deeply where it is used', () => {
    let chain: unknown = 1;
    for (let i = 0; i < 40; i++) chain = Object.freeze({ c: chain });
    assert.ok(canonicalJson(chain).startsWith('{"c":'));
    let deeper: unknown = chain;
    for (let i = 0; i < 30; i++) deeper = { c: deeper };
    assert.throws(() => canonicalJson(deeper), TypeError);
  });
});
