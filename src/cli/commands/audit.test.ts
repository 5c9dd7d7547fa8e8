import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { openLedger } from '../../audit/open.ts';
import { AUDIT_EVENT_TYPES } from '../../audit/types.ts';
import { loadConfig } from '../../config/loader.ts';
import { ReviewService } from '../../review/service.ts';
import { ReviewStore } from '../../review/store.ts';
import { actorOf, createSessionContext, newId } from '../../session/context.ts';
import { silentLogger } from '../../telemetry/logger.ts';
import { UsageError } from '../args.ts';
import { run } from './audit.ts';

const CLI = new URL('../main.ts', import.meta.url).pathname;

test('audit query refuses bad filter flags with a usage error naming the flag', async () => {
  const bad = (argv: string[], message: string) =>
    assert.rejects(run(['query', ...argv]), (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.equal(err.message, message);
      return true;
    });
  await bad(['--access', 'admin'], '--access must be read, write or ddl');
  await bad(['--limit', 'ten'], '--limit must be a number');
  await bad(
    ['--type', 'session.started,nope'],
    `unknown event type "nope" (one of ${AUDIT_EVENT_TYPES.join(', ')})`,
  );
  await bad(['--since', 'yesterday'], 'invalid time "yesterday" (ISO 8601, or relative like 2h)');
  await bad(['--until', 'soon'], 'invalid time "soon" (ISO 8601, or relative like 2h)');
});

test('audit query shows a statement held when the gateway stopped as cancelled, not rejected', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-audit-cli-'));
  try {
    const config = join(dir, 'airlock.yaml');
    writeFileSync(config, `data_dir: ${join(dir, 'data')}\naudit:\n  sync: normal\n`);
    const cfg = loadConfig(config);
    const ledger = await openLedger({ audit: cfg.audit, dataDir: cfg.data_dir });
    const store = new ReviewStore({ dataDir: cfg.data_dir });
    const reviews = new ReviewService({ store, ledger, logger: silentLogger, clock: Date.now });
    const ctx = createSessionContext('postgres', '127.0.0.1:5555', Date.now());
    ctx.identity = {
      kind: 'token',
      name: 'ci-agent',
      owner: 'olivia@example.com',
      groups: [],
      roles: ['user'],
    };
    const text = 'DELETE FROM patients WHERE id = 7';
    const command = { kind: 'sql', protocol: 'simple', text, params: null } as const;
    const [commandId, reviewId] = [newId('c'), newId('r')];
    await ledger.append({
      type: 'command.requested',
      sessionId: ctx.id,
      commandId,
      actor: actorOf(ctx.identity),
      data: { command: { text }, decision: 'hold', reviewId },
    });
    const held = reviews.hold(
      {
        id: reviewId,
        ctx,
        commandId,
        command,
        display: text,
        tables: ['patients'],
        rule: 'deletes-need-review',
        message: undefined,
        requirement: { approvers: [{ groups: ['dba'], min: 1 }], timeoutMs: 60_000 },
      },
      new AbortController().signal,
    );
    await reviews.close(); // what the gateway does first when it stops
    assert.equal((await held).status, 'cancelled');
    await ledger.close();
    store.close();
    const { stdout } = await promisify(execFile)(process.execPath, [
      CLI,
      'audit',
      'query',
      '--config',
      config,
    ]);
    assert.match(stdout, /\[hold cancelled: the gateway is shutting down\] \[pending\] {2}DELETE/);
    assert.doesNotMatch(stdout, /rejected/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
