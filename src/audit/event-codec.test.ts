import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { canonicalJson } from './canonical.ts';
import { columnsOfBody, prepareEvent, type StoredBody, type WireEvent } from './event-codec.ts';
import { AUDIT_EVENT_TYPES } from './types.ts';

/** The stored body the plain way: canonicalJson of the whole event. */
function reference(e: WireEvent, seq: number): string {
  return canonicalJson({
    v: 2,
    seq,
    ts: new Date(e.time).toISOString(),
    type: e.type,
    sessionId: e.sessionId ?? null,
    connection: e.connection ?? null,
    actor: e.actor ?? null,
    clientAddr: e.clientAddr ?? null,
    commandId: e.commandId ?? null,
    data: e.data ?? {},
  });
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

const odd = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 70 }),
  fc.constantFrom('', 's_01a2', '"', '\\', '\n', '\uD800', '\u{1F600}x', 'é', '127.0.0.1:5432'),
);
const table = fc.record(
  { schema: fc.option(odd), name: odd, access: fc.constantFrom('read', 'write') },
  { requiredKeys: ['name', 'access'] },
);
const statement = fc.record({
  kind: fc.constantFrom('SELECT', 'INSERT', 'SET'),
  tables: fc.array(table, { maxLength: 3 }),
  readOnly: fc.boolean(),
});
const requested = fc.record(
  {
    command: fc.record({
      kind: fc.constant('sql'),
      protocol: fc.constantFrom('simple', 'extended'),
      text: odd,
      params: fc.option(
        fc.array(
          fc.record({ format: fc.constant('text'), value: fc.option(odd), bytes: fc.nat() }),
        ),
      ),
    }),
    decision: fc.constantFrom('allow', 'deny', 'hold'),
    rule: odd,
    reviewId: odd,
    causedBy: odd,
    budget: fc.record({ reservedTokens: fc.nat() }),
    statements: fc.array(statement, { maxLength: 3 }),
    parseError: odd,
  },
  { requiredKeys: ['command', 'decision'] },
);
const completed = fc.record(
  {
    outcome: fc.constantFrom('ok', 'error'),
    tags: fc.array(odd, { maxLength: 2 }),
    rows: fc.nat(),
    bytes: fc.nat(),
    durationMs: fc.double({ min: 0, max: 1e6, noNaN: true }),
    error: fc.record({ code: odd, message: odd }),
  },
  { requiredKeys: ['outcome', 'tags', 'rows', 'bytes', 'durationMs'] },
);
const actor = fc.record(
  {
    kind: fc.constantFrom('token', 'oidc'),
    identity: odd,
    owner: odd,
    groups: fc.array(odd, { maxLength: 3 }),
    tokenId: odd,
  },
  { requiredKeys: ['kind', 'identity'] },
);
const event = fc.record(
  {
    type: fc.constantFrom(...AUDIT_EVENT_TYPES),
    // Around second boundaries, and far apart, to exercise the timestamp cache.
    time: fc.oneof(fc.integer({ min: 1_700_000_000_990, max: 1_700_000_001_010 }), fc.nat()),
    sessionId: odd,
    connection: odd,
    clientAddr: odd,
    commandId: odd,
    actor,
    data: fc.oneof(requested, completed, fc.dictionary(odd, odd, { maxKeys: 4 })),
  },
  { requiredKeys: ['type', 'time'] },
);

describe('prepareEvent', () => {
  test('stores exactly canonicalJson of the body, frozen parts or not', () => {
    fc.assert(
      fc.property(event, fc.boolean(), fc.nat({ max: 1e9 }), (e, freeze, seq) => {
        const input = (freeze ? deepFreeze(structuredClone(e)) : e) as WireEvent;
        // Twice: the second time from whatever the first one cached.
        for (let i = 0; i < 2; i++) {
          const p = prepareEvent(input);
          const body = `${p.head}${seq}${p.tail}`;
          assert.equal(body, reference(input, seq));
          const columns = columnsOfBody(JSON.parse(body) as StoredBody);
          for (const [k, v] of Object.entries(columns)) {
            assert.equal(p[k as keyof typeof columns], v, k);
          }
        }
      }),
      { numRuns: 1500 },
    );
  });

  test('a frozen actor or statement list shared by many events is written for each as it is', () => {
    const sharedActor = deepFreeze({
      kind: 'token' as const,
      identity: 'bot',
      owner: 'ann',
      groups: ['a'],
    });
    const statements = deepFreeze([
      {
        kind: 'SELECT',
        tables: [{ schema: null, name: 'accounts', access: 'read' }],
        readOnly: true,
      },
    ]);
    for (let i = 0; i < 5; i++) {
      const e: WireEvent = {
        type: 'command.requested',
        time: 1_700_000_000_000 + i * 400,
        sessionId: `s_${i % 2}`,
        actor: sharedActor,
        commandId: `c_${i}`,
        data: { command: { kind: 'sql', text: `SELECT ${i}` }, statements },
      };
      const p = prepareEvent(e);
      assert.equal(`${p.head}${i}${p.tail}`, reference(e, i));
      assert.equal(p.tables, ',accounts:read,');
    }
  });

  test('a statement list changed between events is recorded as it is now', () => {
    const statements = [{ kind: 'SELECT', tables: [{ name: 'a', access: 'read' }] }];
    const e = (): WireEvent => ({ type: 'command.requested', time: 1, data: { statements } });
    assert.equal(prepareEvent(e()).tables, ',a:read,');
    statements.push({ kind: 'INSERT', tables: [{ name: 'b', access: 'write' }] });
    const p = prepareEvent(e());
    assert.equal(p.tables, ',a:read,b:write,');
    assert.equal(`${p.head}1${p.tail}`, reference(e(), 1));
  });

  test('a command result is written as canonicalJson writes it, odd values and shapes included', () => {
    const result = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
      outcome: 'ok',
      tags: ['SELECT 1'],
      rows: 1,
      bytes: 19,
      durationMs: 0.123,
      ...over,
    });
    class Tagged {
      code = 'x';
      message = 'y';
    }
    const variants: Record<string, unknown>[] = [
      result(),
      result({ durationMs: -0, rows: 1e21, bytes: 5e-7 }),
      result({ tags: [] }),
      result({ tags: ['a"b', '\uD800', 'é'], outcome: 'error' }),
      result({ error: { code: '42P01', message: 'relation "x" does not exist\n' } }),
      result({ error: { message: 'm', code: 'c' } }),
      result({ error: { code: 'c', message: 'm', extra: 1 } }),
      result({ error: undefined }),
      result({ error: Object.assign(Object.create(null), { code: 'c', message: 'm' }) }),
      result({ tags: ['a', 1] }),
      result({ tags: Object.freeze(['a']) }),
      result({ rows: undefined }),
      result({ extra: true }),
      { tags: [], outcome: 'ok', rows: 0, bytes: 0, durationMs: 0 },
      Object.assign(Object.create(null), result()),
    ];
    for (const [i, data] of variants.entries()) {
      const e: WireEvent = { type: 'command.completed', time: 1_700_000_000_000, data };
      const p = prepareEvent(e);
      assert.equal(`${p.head}${i}${p.tail}`, reference(e, i), `variant ${i}`);
    }
    for (const bad of [
      result({ rows: Number.NaN }),
      result({ tags: [undefined] }),
      result({ error: new Tagged() }),
    ]) {
      assert.throws(
        () => prepareEvent({ type: 'command.completed', time: 1, data: bad }),
        TypeError,
      );
    }
  });
});
