import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { AuditEventInput } from '../audit/types.ts';
import type { Identity } from '../identity/types.ts';
import { createSessionContext } from '../session/context.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { type HoldOutcome, ReviewService } from './service.ts';
import { ReviewStore } from './store.ts';

const root = mkdtempSync(join(tmpdir(), 'airlock-reviews-unit-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

const human = (name: string, groups: string[]): Identity => ({
  kind: 'oidc',
  name,
  owner: name,
  groups,
  roles: ['user'],
});

function setup(dir = join(root, `d${++n}`)) {
  const store = new ReviewStore({ dataDir: dir });
  const events: AuditEventInput[] = [];
  const ledger = {
    append: async (e: AuditEventInput) => {
      events.push(e);
      return events.length;
    },
  };
  const service = new ReviewService({ store, ledger, logger: silentLogger, clock: Date.now });
  return { dir, store, events, service };
}

function hold(service: ReviewService, who: Identity, text: string, min = 1, timeoutMs = 5000) {
  const ctx = createSessionContext('postgres', '127.0.0.1:1', Date.now());
  ctx.identity = who;
  const abort = new AbortController();
  let id = '';
  const outcome: Promise<HoldOutcome> = service.hold(
    {
      id: `r_${(++n).toString(16).padStart(30, '0')}`,
      ctx,
      commandId: `c_${n}`,
      command: { kind: 'sql', protocol: 'simple', text, params: null },
      display: text,
      tables: ['patients'],
      rule: 'r',
      message: undefined,
      requirement: { approvers: [{ groups: ['dba'], min }], timeoutMs },
      onCreated: (rid) => {
        id = rid;
      },
    },
    abort.signal,
  );
  return { outcome, abort, id: () => id };
}

describe('ReviewService', () => {
  test('two of dba: one vote keeps it pending, a second distinct dba approves', async () => {
    const { service, events } = setup();
    const h = hold(service, human('alice', ['eng']), 'TRUNCATE patients', 2);
    await service.decide(h.id(), human('dave', ['dba']), 'approve', 'ok');
    assert.equal(service.get(h.id())?.status, 'pending');
    await assert.rejects(service.decide(h.id(), human('dave', ['dba']), 'approve', 'again'), {
      code: 'GW_REVIEW_CLOSED',
    });
    await service.decide(h.id(), human('dana', ['dba']), 'approve', 'ok too');
    assert.equal((await h.outcome).status, 'approved');
    assert.deepEqual(
      events.map((e) => e.type),
      ['review.voted', 'review.voted', 'command.approved'],
    );
    assert.deepEqual(events[2]?.data?.approvers, ['dave', 'dana']);
  });

  test('self, own agent, agents and outsiders cannot decide', async () => {
    const { service } = setup();
    const agent: Identity = {
      ...human('claude', ['dba']),
      kind: 'token',
      owner: 'dave',
      tokenId: 't',
    };
    const h = hold(service, agent, 'DROP TABLE x');
    await assert.rejects(service.decide(h.id(), human('dave', ['dba']), 'approve', ''), {
      code: 'GW_REVIEW_SELF_APPROVAL',
    });
    await assert.rejects(
      service.decide(h.id(), { ...human('eve', ['dba']), kind: 'token' }, 'approve', ''),
      {
        code: 'GW_REVIEW_NOT_ELIGIBLE',
      },
    );
    await assert.rejects(service.decide(h.id(), human('bob', ['eng']), 'approve', ''), {
      code: 'GW_REVIEW_NOT_ELIGIBLE',
    });
    await service.decide(h.id(), human('dana', ['dba']), 'deny', 'no');
    const o = await h.outcome;
    assert.deepEqual([o.status, 'reason' in o ? o.reason : undefined], ['denied', 'no']);
  });

  test('timeout expires, abort cancels, both recorded', async () => {
    const { service, events } = setup();
    const t = hold(service, human('alice', []), 'DELETE FROM patients', 1, 50);
    assert.equal((await t.outcome).status, 'expired');
    const c = hold(service, human('alice', []), 'DELETE FROM patients');
    c.abort.abort();
    assert.equal((await c.outcome).status, 'cancelled');
    assert.deepEqual(
      events.map((e) => [e.type, e.data?.status]),
      [
        ['command.rejected', 'expired'],
        ['command.rejected', 'cancelled'],
      ],
    );
  });

  test('after a restart, held statements are cancelled and grants stay pending', async () => {
    const first = setup();
    void hold(first.service, human('alice', []), 'DELETE FROM patients').outcome;
    const grant = await first.service.requestGrant({
      identity: human('bob', []),
      connection: 'clinic',
      durationMs: 60_000,
      reason: 'incident',
      approvers: [{ groups: ['dba'], min: 1 }],
      timeoutMs: 60_000,
    });
    first.store.close();
    const second = setup(first.dir);
    assert.equal(await second.service.recover(), 1);
    assert.equal(second.store.pending('command').length, 0);
    assert.equal(second.service.get(grant.id)?.status, 'pending');
    assert.equal(second.events[0]?.type, 'command.rejected');
    assert.equal(second.events[0]?.data?.status, 'cancelled');
    await second.service.decide(grant.id, human('dana', ['dba']), 'approve', 'ok');
    assert.equal(second.service.hasGrant(human('bob', []), 'clinic'), true);
    assert.equal(second.service.hasGrant(human('alice', []), 'clinic'), false);
    const third = setup(first.dir);
    await third.service.recover();
    assert.equal(third.service.hasGrant(human('bob', []), 'clinic'), true, 'grants survive too');
  });
});
