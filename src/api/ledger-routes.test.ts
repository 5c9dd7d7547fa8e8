import assert from 'node:assert/strict';
import { test } from 'node:test';
import { filterOf } from './ledger-routes.ts';

const q = (params: Record<string, string>) => filterOf(new URLSearchParams(params));

test('query parameters become a ledger filter; blanks are absent, values trimmed', () => {
  assert.deepEqual(
    q({
      connection: ' clinic ',
      identity: 'agent-7',
      owner: 'alice@example.com',
      session: 's_1',
      type: 'command.requested, session.started',
      decision: 'hold',
      table: 'patients',
      access: 'write',
      since: '2025-03-01T12:00:00Z',
      until: '1740830400000',
      limit: '50',
    }),
    {
      connection: 'clinic',
      identity: 'agent-7',
      owner: 'alice@example.com',
      sessionId: 's_1',
      types: ['command.requested', 'session.started'],
      decision: 'hold',
      table: 'patients',
      access: 'write',
      since: Date.parse('2025-03-01T12:00:00Z'),
      until: 1_740_830_400_000,
      limit: 50,
    },
  );
  assert.deepEqual(q({ connection: '  ', since: '' }), { limit: 200 });
});

test('a bad parameter is GW_PROTOCOL_MALFORMED naming the parameter', () => {
  const bad = (params: Record<string, string>, message: string) =>
    assert.throws(() => q(params), { code: 'GW_PROTOCOL_MALFORMED', clientMessage: message });
  bad({ access: 'admin' }, 'access must be read, write or ddl');
  bad({ type: 'command.requested,nope' }, 'unknown event type "nope"');
  bad({ type: 'x'.repeat(60) }, `unknown event type "${'x'.repeat(40)}"`);
  bad({ since: 'yesterday' }, 'since must be ISO-8601 or ms since epoch');
  bad({ until: '2h' }, 'until must be ISO-8601 or ms since epoch');
  bad({ limit: 'ten' }, 'limit must be a number up to 99999');
  bad({ limit: '100000' }, 'limit must be a number up to 99999');
});
