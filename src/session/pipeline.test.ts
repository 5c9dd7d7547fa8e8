import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AuditEventInput, AuditLedger } from '../audit/types.ts';
import { SecretScanner } from '../masking/secret-scan.ts';
import { loadPolicy } from '../policy/rules.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { createSessionContext } from './context.ts';
import { SessionPipeline } from './pipeline.ts';

function setup() {
  const events: AuditEventInput[] = [];
  const ledger: AuditLedger = {
    append: async (e) => events.push(e),
    appendLater: (e) => void events.push(e),
    query: async () => [],
    commands: async () => [],
    checkpoint: async () => 0,
    close: async () => {},
  };
  const scanner = new SecretScanner();
  const pipeline = new SessionPipeline({
    ledger,
    policy: loadPolicy(
      'version: 1\nrules: [{ name: no-rm, match: { commands: ["rm -rf"] }, action: deny }]',
      't',
    ),
    logger: silentLogger,
    clock: Date.now,
    redactSecrets: (t) => scanner.redact(t).text,
  });
  const ctx = createSessionContext('ssh', '127.0.0.1:1', Date.now());
  ctx.identity = { kind: 'token', name: 'bot', owner: 'ann@x', groups: [], roles: ['user'] };
  return { events, pipeline, ctx };
}

describe('SessionPipeline with SSH commands', () => {
  test('an exec command is judged on its full text but recorded without the secrets in it', async () => {
    const { events, pipeline, ctx } = setup();
    const secret = `ghp_${'A1b2C3d4E5'.repeat(3)}abcdef`;
    const text = `curl -H 'Authorization: token ${secret}' https://api.github.com/user | jq .login`;
    const v = await pipeline.onCommand(ctx, { kind: 'exec', text, channel: 0 });
    assert.equal(v.action, 'allow');
    const recorded = JSON.stringify(events);
    assert.ok(!recorded.includes(secret), 'no secret in command.requested');
    const data = events[0]?.data as {
      command: { text: string };
      invocations: { program: string }[];
    };
    assert.match(data.command.text, /\[masked:github_token\]/);
    assert.deepEqual(
      data.invocations.map((i) => i.program),
      ['curl', 'jq'],
    );
  });

  test('a denied exec is recorded with its rule before the verdict returns', async () => {
    const { events, pipeline, ctx } = setup();
    const v = await pipeline.onCommand(ctx, { kind: 'exec', text: 'rm -rf /', channel: 1 });
    assert.equal(v.action, 'deny');
    assert.equal(v.action === 'deny' ? v.error.code : '', 'GW_POLICY_DENIED');
    assert.deepEqual(
      [events[0]?.type, events[0]?.data?.decision, events[0]?.data?.rule],
      ['command.requested', 'deny', 'no-rm'],
    );
  });

  test('a command line that does not parse is recorded with the parser’s reason', async () => {
    const { events, pipeline, ctx } = setup();
    await pipeline.onCommand(ctx, { kind: 'exec', text: "echo 'open", channel: 0 });
    assert.match(String(events[0]?.data?.parseError), /unterminated single quote/);
  });
});

describe('SessionPipeline at shutdown', () => {
  test('endSessions waits for started sessions to end, then records the end of the rest', async () => {
    const { events, pipeline, ctx } = setup();
    const stuck = createSessionContext('postgres', '127.0.0.1:2', Date.now());
    await pipeline.onSessionStart(ctx);
    await pipeline.onSessionStart(stuck);
    setTimeout(() => pipeline.onClose(ctx, 'client closed'), 20);
    assert.equal(await pipeline.endSessions(300), 1);
    pipeline.onClose(stuck, 'upstream failed: GW_SESSION_STARTUP_TIMEOUT'); // after the fact
    const ended = events.filter((e) => e.type === 'session.ended');
    assert.deepEqual(
      ended.map((e) => [e.sessionId, e.data?.reason]),
      [
        [ctx.id, 'client closed'],
        [stuck.id, 'gateway stopped'],
      ],
    );
    const late = createSessionContext('ssh', '127.0.0.1:3', Date.now());
    await assert.rejects(pipeline.onSessionStart(late), { code: 'GW_SESSION_SHUTTING_DOWN' });
    assert.equal(await pipeline.endSessions(300), 0);
  });
});
