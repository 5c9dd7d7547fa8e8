import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { GatewayError } from '../errors.ts';
import type { Identity } from '../identity/types.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { createSessionContext } from './context.ts';
import { SessionRegistry } from './registry.ts';
import { SessionGuard } from './session-guard.ts';

function live(registry: SessionRegistry, identity: Identity) {
  const ctx = createSessionContext('postgres', '127.0.0.1:1', 0);
  ctx.identity = identity;
  const ended: GatewayError[] = [];
  registry.add({ ctx, closed: Promise.resolve(), terminate: (e) => ended.push(e) });
  return { ctx, ended };
}

const who = (owner: string, extra: Partial<Identity> = {}): Identity => ({
  kind: 'oidc',
  name: owner,
  owner,
  groups: [],
  roles: ['user'],
  ...extra,
});

describe('SessionGuard', () => {
  test('ends the sessions whose identity no longer holds, once, and records why', () => {
    const sessions = new SessionRegistry();
    const disabled = new Set<string>();
    const recorded: [string, unknown][] = [];
    const guard = new SessionGuard({
      sessions,
      recheck: (i) => (disabled.has(i.owner) ? 'user disabled' : undefined),
      storeVersion: () => 1,
      onTerminated: (ctx, data) => recorded.push([ctx.id, data]),
      logger: silentLogger,
      clock: () => 0,
      intervalMs: 1000,
    });
    const alice = live(sessions, who('alice'));
    const agent = live(sessions, who('alice', { kind: 'token', name: 'agent', tokenId: 't' }));
    const bob = live(sessions, who('bob'));
    assert.equal(guard.sweep(), 0);
    disabled.add('alice');
    assert.equal(guard.sweep(), 2);
    assert.equal(guard.sweep(), 0, 'a session being closed is not ended twice');
    assert.deepEqual(
      [alice.ended.map((e) => e.code), agent.ended.map((e) => e.code), bob.ended.length],
      [['GW_SESSION_REVOKED'], ['GW_SESSION_REVOKED'], 0],
    );
    assert.match(alice.ended[0]?.clientMessage ?? '', /user disabled/);
    assert.deepEqual(recorded, [
      [alice.ctx.id, { reason: 'user disabled' }],
      [agent.ctx.id, { reason: 'user disabled' }],
    ]);
  });

  test('a periodic tick re-checks on store changes and on expiry', async () => {
    const sessions = new SessionRegistry();
    let version = 1;
    let now = 0;
    let checks = 0;
    const guard = new SessionGuard({
      sessions,
      recheck: (i) => {
        checks++;
        return i.expiresAt !== undefined && now >= i.expiresAt ? 'credential expired' : undefined;
      },
      storeVersion: () => version,
      onTerminated: () => {},
      logger: silentLogger,
      clock: () => now,
      intervalMs: 100,
    });
    const s = live(sessions, who('carol', { expiresAt: 1000 }));
    guard.start();
    try {
      await new Promise((r) => setTimeout(r, 250));
      assert.equal(checks, 1, 'first tick sweeps; unchanged store and no expiry: no re-check');
      version = 2;
      await new Promise((r) => setTimeout(r, 150));
      assert.equal(checks, 2);
      now = 1000;
      await new Promise((r) => setTimeout(r, 150));
      assert.deepEqual(
        s.ended.map((e) => e.clientMessage),
        ['session ended: credential expired'],
      );
    } finally {
      guard.stop();
    }
  });
});
