import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prepareEvent } from './event-codec.ts';
import type { SealItem } from './sealer.ts';
import { decodeSealItems, encodeSealItems } from './sqlite-wire.ts';

test('a batch round-trips through the flat wire form', () => {
  const items: SealItem[] = [
    prepareEvent({
      type: 'command.requested',
      time: 1_700_000_000_000,
      sessionId: 's-1',
      connection: 'prod',
      commandId: 'c-1',
      actor: { kind: 'token', identity: 'agent', owner: 'alice' },
      data: {
        decision: 'allow',
        statements: [{ kind: 'SELECT', tables: [{ schema: null, name: 't', access: 'read' }] }],
      },
    }),
    prepareEvent({ type: 'session.ended', time: 0 }),
    { checkpoint: true, time: 42 },
    { refused: 'invalid audit event: event time is invalid' },
    prepareEvent({ type: 'session.started', time: 1, sessionId: '-:E\u0000\u{1F600}' }),
  ];
  const wire = encodeSealItems(items);
  assert.deepEqual(decodeSealItems(structuredClone(wire)), items);
});

test('anything but a batch it wrote is refused', () => {
  const good = encodeSealItems([prepareEvent({ type: 'session.ended', time: 0 })]);
  for (const bad of [['X'], ['E', 1], ['C', '1'], ['R', null], good.slice(0, -1), [...good, 'E']]) {
    assert.throws(() => decodeSealItems(bad), /malformed/, JSON.stringify(bad));
  }
  assert.deepEqual(decodeSealItems([]), []);
});
