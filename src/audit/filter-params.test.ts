import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type FilterSyntax, parseAuditFilter } from './filter-params.ts';
import { AUDIT_EVENT_TYPES } from './types.ts';

class Bad extends Error {}

function syntax(values: Record<string, string>, over: Partial<FilterSyntax> = {}): FilterSyntax {
  return {
    get: (name) => values[name],
    time: (v, name) => {
      if (!/^\d+$/.test(v)) throw new Bad(`${name}: not a time`);
      return Number(v);
    },
    invalid: (message) => new Bad(message),
    label: (name) => `-${name}`,
    ...over,
  };
}

const parse = (values: Record<string, string>, over: Partial<FilterSyntax> = {}) =>
  parseAuditFilter(syntax(values, over));

describe('parseAuditFilter', () => {
  test('maps every parameter to its filter field, with limit 200 by default', () => {
    assert.deepEqual(parse({}), { limit: 200 });
    assert.deepEqual(
      parse({
        connection: 'clinic',
        identity: 'agent-7',
        owner: 'alice@example.com',
        session: 's_1',
        type: 'command.requested, command.rejected',
        decision: 'hold',
        table: 'public.patients',
        access: 'ddl',
        since: '1000',
        until: '2000',
        limit: '0',
      }),
      {
        connection: 'clinic',
        identity: 'agent-7',
        owner: 'alice@example.com',
        sessionId: 's_1',
        types: ['command.requested', 'command.rejected'],
        decision: 'hold',
        table: 'public.patients',
        access: 'ddl',
        since: 1000,
        until: 2000,
        limit: 0,
      },
    );
  });

  test('times go through the caller’s parser; an empty time is no bound', () => {
    assert.deepEqual(parse({ since: '', until: '' }), { limit: 200 });
    assert.throws(() => parse({ until: 'soon' }), { message: 'until: not a time' });
  });

  test('bad values raise the caller’s error, naming the parameter as the caller spells it', () => {
    const bad = (values: Record<string, string>, message: string, over = {}) =>
      assert.throws(
        () => parse(values, over),
        (err: unknown) => {
          assert.ok(err instanceof Bad);
          assert.equal(err.message, message);
          return true;
        },
      );
    bad({ access: 'admin' }, '-access must be read, write or ddl');
    bad({ access: '' }, '-access must be read, write or ddl');
    bad({ limit: 'ten' }, '-limit must be a number');
    bad({ limit: '' }, '-limit must be a number');
    bad({ limit: '1000' }, '-limit must be a number up to 999', { maxLimit: 999 });
    bad({ type: 'session.started,nope' }, 'unknown event type "nope"');
    bad({ type: 'y'.repeat(50) }, `unknown event type "${'y'.repeat(40)}"`);
    bad({ type: 'nope' }, `unknown event type "nope" (one of ${AUDIT_EVENT_TYPES.join(', ')})`, {
      listTypes: true,
    });
    assert.equal(parse({ limit: '999' }, { maxLimit: 999 }).limit, 999);
  });
});
