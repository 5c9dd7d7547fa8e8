import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { OCSF_VERSION, parseEndpoint, toOcsf } from './ocsf.ts';
import { AUDIT_EVENT_TYPES, type AuditEvent, type AuditEventType } from './types.ts';

const TS = '2025-03-01T12:00:00.000Z';
const ACTOR = {
  kind: 'token',
  identity: 'agent-7',
  owner: 'alice@example.com',
  tokenId: 'tok_1',
  groups: ['analysts', 'oncall'],
} as const;

function ev(
  type: AuditEventType,
  data: Record<string, unknown> = {},
  over: Partial<AuditEvent> = {},
) {
  const e: AuditEvent = {
    seq: 42,
    ts: TS,
    type,
    sessionId: 's_1',
    connection: 'clinic',
    actor: ACTOR,
    clientAddr: '10.1.2.3:50412',
    commandId: type.startsWith('command.') || type === 'data.masked' ? 'c_1' : null,
    data,
    body: '{}',
    leafHash: 'a'.repeat(64),
    prevHash: '0'.repeat(64),
    hash: 'b'.repeat(64),
    ...over,
  };
  return e;
}

// biome-ignore lint/suspicious/noExplicitAny: assertions walk the mapped JSON freely
type O = Record<string, any>;
const map = (e: AuditEvent, opts = {}): O => toOcsf(e, { seq: e.seq }, opts) as O;

/** Every event type with a representative payload. */
const SAMPLES: Record<AuditEventType, Record<string, unknown>> = {
  'session.started': { protocol: 'postgres', applicationName: 'psql' },
  'session.ended': { reason: 'client-closed', durationMs: 1500, commands: 3, denied: 1, failed: 0 },
  'auth.succeeded': { method: 'scram-sha-256' },
  'auth.failed': { reason: 'bad token', method: 'password', user: 'agent-7' },
  'access.denied': { reason: 'not in allow_groups', database: 'clinic' },
  'session.terminated': { reason: 'user disabled', by: 'ops' },
  'command.requested': {
    command: { kind: 'sql', text: 'SELECT 1', params: null, protocol: 'simple' },
    decision: 'allow',
    rule: 'default',
  },
  'command.approved': { approver: 'bob' },
  'command.rejected': { approver: 'bob', reason: 'not today' },
  'command.completed': { outcome: 'ok', tags: ['SELECT 1'], rows: 1, bytes: 10, durationMs: 3 },
  'llm.requested': {
    command: { kind: 'http', method: 'POST', url: '/chat/completions', llm: { model: 'gpt-4o' } },
    decision: 'allow',
  },
  'llm.responded': { outcome: 'ok', status: 200, llm: { usage: { totalTokens: 12 } } },
  'review.voted': { reviewId: 'r_1', decision: 'approve', reason: 'ok', status: 'pending' },
  'access.requested': { reviewId: 'r_2', durationMs: 3600000, reason: 'incident 42' },
  'access.granted': { reviewId: 'r_2', status: 'approved', approvers: ['bob'] },
  'access.rejected': { reviewId: 'r_2', status: 'expired', reason: 'timed out' },
  'data.masked': { rule: 'pii', columns: ['ssn', 'dob'], values: 7 },
  'file.transferred': {
    via: 'sftp',
    path: '/srv/x.csv',
    direction: 'download',
    bytes: 10,
    sha256: 'ab',
    complete: true,
  },
  'file.changed': { via: 'sftp', op: 'remove', path: '/srv/x.csv', ok: true },
  'session.recorded': { file: 's_1/0.cast', sha256: 'ab', bytes: 100, truncated: false },
  'host_key.pinned': { host: 'web', port: 22, fingerprint: 'SHA256:x' },
  'host_key.rejected': { host: 'web', port: 22, fingerprint: 'SHA256:y', expected: ['SHA256:x'] },
  'ssh_key.added': { fingerprint: 'SHA256:k', owner: 'alice@example.com', tokenId: 'tok_2' },
  'ssh_key.removed': { fingerprint: 'SHA256:k', owner: 'alice@example.com' },
  'token.created': { tokenId: 'tok_2', name: 'agent-8', owner: 'alice@example.com' },
  'token.revoked': { tokenId: 'tok_2', name: 'agent-8', owner: 'alice@example.com' },
  'user.disabled': { user: 'alice@example.com', by: 'ops', revokedTokens: ['a', 'b'] },
  'user.enabled': { user: 'alice@example.com', by: 'ops' },
  'config.loaded': { hash: 'c0ffee' },
  'policy.changed': { hash: 'beef' },
  'ledger.checkpointed': {
    treeSize: 100,
    rootHash: 'r',
    keyId: 'k',
    signature: 's',
    origin: 'o',
    time: 1,
  },
  'ledger.pruned': { throughSeq: 10 },
  'audit.outage.ended': { refused: 4, since: 1, until: 2 },
};

const EXPECTED: Record<AuditEventType, [classUid: number, activityId: number]> = {
  'session.started': [3002, 1],
  'session.ended': [3002, 2],
  'auth.succeeded': [3002, 1],
  'auth.failed': [3002, 1],
  'access.denied': [3002, 1],
  'session.terminated': [3002, 2],
  'command.requested': [6005, 4],
  'command.approved': [6005, 99],
  'command.rejected': [6005, 99],
  'command.completed': [6005, 4],
  'llm.requested': [6003, 1],
  'llm.responded': [6003, 99],
  'review.voted': [6005, 99],
  'access.requested': [3001, 99],
  'access.granted': [3001, 7],
  'access.rejected': [3001, 99],
  'data.masked': [6005, 99],
  'file.transferred': [6006, 2],
  'file.changed': [6006, 4],
  'session.recorded': [4007, 99],
  'host_key.pinned': [4007, 1],
  'host_key.rejected': [4007, 5],
  'ssh_key.added': [3001, 99],
  'ssh_key.removed': [3001, 99],
  'token.created': [3001, 1],
  'token.revoked': [3001, 6],
  'user.disabled': [3001, 5],
  'user.enabled': [3001, 2],
  'config.loaded': [6002, 3],
  'policy.changed': [3004, 3],
  'ledger.checkpointed': [1008, 99],
  'ledger.pruned': [1008, 2],
  'audit.outage.ended': [1008, 8],
};

describe('toOcsf', () => {
  for (const type of AUDIT_EVENT_TYPES) {
    test(`${type} maps to class ${EXPECTED[type][0]} with the shared attributes`, () => {
      const o = map(ev(type, SAMPLES[type]));
      const [classUid, activityId] = EXPECTED[type];
      assert.equal(o.class_uid, classUid);
      assert.equal(o.activity_id, activityId);
      assert.equal(o.category_uid, Math.floor(classUid / 1000));
      assert.equal(o.type_uid, classUid * 100 + activityId);
      assert.equal(o.type_name, `${o.class_name}: ${o.activity_name}`);
      assert.equal(o.time, Date.parse(TS));
      assert.equal(o.metadata.version, OCSF_VERSION);
      assert.deepEqual(o.metadata.product, { name: 'Airlock', vendor_name: 'Airlock' });
      assert.equal(o.metadata.uid, '42');
      assert.equal(o.metadata.log_name, 'airlock-ledger');
      assert.equal(o.metadata.event_code, type);
      assert.ok([1, 2, 3, 4].includes(o.severity_id));
      assert.equal(typeof o.severity, 'string');
      assert.ok([1, 2, 99].includes(o.status_id), 'every event states an outcome');
      assert.deepEqual(o.unmapped.airlock, { seq: 42 });
      assert.equal(typeof o.message, 'string');
    });
  }

  test('fills actor.user, groups, session and src_endpoint from the event', () => {
    const o = map(ev('command.requested', SAMPLES['command.requested']));
    assert.deepEqual(o.actor, {
      user: {
        name: 'agent-7',
        uid: 'tok_1',
        type_id: 99,
        type: 'Token',
        groups: [{ name: 'analysts' }, { name: 'oncall' }],
      },
      session: { uid: 's_1' },
    });
    assert.deepEqual(o.src_endpoint, { ip: '10.1.2.3', port: 50412 });
    assert.equal(o.unmapped.owner, 'alice@example.com');
    assert.equal(o.metadata.correlation_uid, 'c_1');
  });

  test('omits actor and endpoint when the event has none', () => {
    const o = map(ev('config.loaded', SAMPLES['config.loaded'], { actor: null, clientAddr: null }));
    assert.equal(o.actor, undefined);
    assert.equal(o.src_endpoint, undefined);
    assert.deepEqual(o.app, { name: 'Airlock', vendor_name: 'Airlock', version: 'c0ffee' });
  });

  test('auth.failed without an actor names the presented user, fails, and is Medium', () => {
    const o = map(ev('auth.failed', SAMPLES['auth.failed'], { actor: null }));
    assert.deepEqual(o.user, { name: 'agent-7' });
    assert.equal(o.status_id, 2);
    assert.equal(o.status, 'Failure');
    assert.equal(o.status_detail, 'bad token');
    assert.equal(o.severity_id, 3);
    assert.equal(o.auth_protocol_id, 99);
    assert.equal(o.auth_protocol, 'password');
  });

  test('session.ended reports duration and the close reason', () => {
    const o = map(ev('session.ended', SAMPLES['session.ended']));
    assert.equal(o.duration, 1500);
    assert.equal(o.end_time - o.start_time, 1500);
    assert.equal(o.status_detail, 'client-closed');
    assert.deepEqual(o.session, { uid: 's_1' });
    assert.deepEqual(o.service, { name: 'clinic' });
  });

  test('SQL activity follows the statement kinds, the most impactful winning', () => {
    const withKinds = (...kinds: string[]) =>
      map(
        ev('command.requested', {
          ...SAMPLES['command.requested'],
          statements: kinds.map((kind) => ({
            kind,
            tables: [{ schema: 'public', name: 'patients', access: 'read' }],
          })),
        }),
      );
    assert.equal(withKinds('select').activity_name, 'Query');
    assert.equal(withKinds('insert').activity_name, 'Create');
    assert.equal(withKinds('update').activity_name, 'Update');
    assert.equal(withKinds('select', 'delete', 'insert').activity_name, 'Delete');
    assert.equal(withKinds('vacuum').activity_id, 99);
    assert.deepEqual(withKinds('select').table, { name: 'public.patients' });
    assert.deepEqual(withKinds('select').database, {
      type_id: 1,
      type: 'Relational',
      name: 'clinic',
    });
  });

  test('command.completed takes its activity from the command tags', () => {
    const o = map(ev('command.completed', { ...SAMPLES['command.completed'], tags: ['UPDATE 3'] }));
    assert.equal(o.activity_name, 'Update');
    assert.equal(o.duration, 3);
    assert.deepEqual(o.query_info, { uid: 'c_1', bytes: 10 });
  });

  test('decisions become statuses', () => {
    const req = (decision: string) =>
      map(ev('command.requested', { ...SAMPLES['command.requested'], decision, rule: 'r1' }));
    assert.equal(req('allow').status_id, 1);
    assert.equal(req('mask').status_detail, 'allowed with masking by rule r1');
    assert.equal(req('deny').status_id, 2);
    assert.equal(req('deny').severity_id, 3);
    assert.equal(req('deny').status_detail, 'denied by rule r1');
    assert.equal(req('hold').status_id, 99);
    assert.equal(req('hold').status, 'Held');
  });

  test('outcomes become statuses; errors carry their SQLSTATE', () => {
    const done = (outcome: string, extra = {}) =>
      map(ev('command.completed', { ...SAMPLES['command.completed'], outcome, ...extra }));
    assert.equal(done('ok').status_id, 1);
    assert.equal(done('suspended').status_id, 1);
    const failed = done('error', { error: { code: '42P01', message: 'relation does not exist' } });
    assert.equal(failed.status_id, 2);
    assert.equal(failed.status_code, '42P01');
    assert.equal(failed.status_detail, 'relation does not exist');
    assert.equal(done('aborted').status_id, 2);
    assert.equal(done('skipped').status, 'Skipped');
  });

  test('approval and rejection name the approver', () => {
    assert.equal(map(ev('command.approved', { approver: 'bob' })).status_detail, 'approved by bob');
    const r = map(ev('command.rejected', { approver: 'bob', reason: 'no' }));
    assert.equal(r.status_id, 2);
    assert.equal(r.status_detail, 'rejected by bob: no');
    const denied = map(
      ev('command.rejected', { status: 'denied', deniedBy: 'dana', reason: 'no' }),
    );
    assert.equal(denied.status_detail, 'rejected by dana: no');
    assert.equal(denied.activity_name, 'Reject');
  });

  test('a review cancelled or expired without a decision is not a rejection by anyone', () => {
    const cancelled = map(
      ev('command.rejected', {
        status: 'cancelled',
        reason: 'the gateway is shutting down',
        approvers: [],
      }),
    );
    assert.equal(cancelled.status_id, 2);
    assert.equal(cancelled.activity_id, 99);
    assert.equal(cancelled.activity_name, 'Cancel');
    assert.equal(cancelled.status_detail, 'cancelled: the gateway is shutting down');
    assert.equal(cancelled.message, 'held command cancelled: the gateway is shutting down');
    const expired = map(ev('command.rejected', { status: 'expired', reason: 'timed out' }));
    assert.equal(expired.activity_name, 'Expire');
    assert.equal(expired.status_detail, 'expired: timed out');
    assert.equal(expired.message, 'held command expired');
  });

  test('never copies bound parameters into OCSF attributes', () => {
    const secret = 'hunter2-very-secret';
    const e = ev('command.requested', {
      command: {
        kind: 'sql',
        text: 'SELECT * FROM patients WHERE ssn = $1',
        params: [{ format: 'text', value: secret, bytes: 19 }],
        protocol: 'extended',
      },
      decision: 'allow',
    });
    const o = toOcsf(e, { seq: e.seq }) as O;
    assert.doesNotMatch(JSON.stringify(o), new RegExp(secret));
    assert.equal(o.query_info.query_string, 'SELECT * FROM patients WHERE ssn = $1');
    const exported = toOcsf(e, { seq: e.seq, params: ['kept by the exporter'] }) as O;
    assert.deepEqual(exported.unmapped.airlock.params, ['kept by the exporter']);
  });

  test('HTTP commands map to API Activity by method, keeping only the URL path', () => {
    const http = (method: string) =>
      map(
        ev('command.requested', {
          command: { kind: 'http', method, url: 'https://api.example.com/v1/chat?key=abc' },
          decision: 'allow',
        }),
      );
    const post = http('POST');
    assert.equal(post.class_uid, 6003);
    assert.equal(post.activity_name, 'Create');
    assert.equal(post.type_uid, 600301);
    assert.deepEqual(post.api, { operation: 'POST', service: { name: 'clinic' } });
    assert.deepEqual(post.http_request, { http_method: 'POST', url: { path: '/v1/chat' } });
    assert.doesNotMatch(JSON.stringify(post), /key=abc/);
    assert.equal(http('GET').activity_id, 2);
    assert.equal(http('PATCH').activity_id, 3);
    assert.equal(http('DELETE').activity_id, 4);
    assert.equal(http('OPTIONS').activity_id, 99);
  });

  test('command events without a command follow the session protocol', () => {
    const done = ev('command.completed', SAMPLES['command.completed']);
    assert.equal(map(done).class_uid, 6005);
    assert.equal(map(done, { protocol: 'http' }).class_uid, 6003);
    assert.equal(
      map(ev('data.masked', SAMPLES['data.masked']), { protocol: 'http' }).class_uid,
      6003,
    );
  });

  test('token events describe the token account and who acted', () => {
    const o = map(ev('token.created', SAMPLES['token.created']));
    assert.deepEqual(o.user, { name: 'agent-8', uid: 'tok_2', type_id: 99, type: 'Token' });
    assert.equal(o.actor.user.name, 'agent-7');
  });

  test('ledger housekeeping names the log', () => {
    const o = map(ev('audit.outage.ended', SAMPLES['audit.outage.ended'], { actor: null }));
    assert.equal(o.log_name, 'airlock-ledger');
    assert.equal(o.log_type_id, 2);
    assert.equal(o.severity_id, 4);
    assert.equal(o.status_detail, '4 commands refused during the outage');
  });
});

describe('SSH events', () => {
  test('an exec command is Process Activity: Launch, then Terminate with the exit code', () => {
    const req = map(
      ev('command.requested', {
        command: { kind: 'exec', text: 'systemctl restart nginx', channel: 0 },
        decision: 'allow',
      }),
    );
    assert.deepEqual([req.class_uid, req.activity_name], [1007, 'Launch']);
    assert.equal(req.process.cmd_line, 'systemctl restart nginx');
    const done = map(
      ev('command.completed', { outcome: 'error', exitStatus: 3, bytes: 10, durationMs: 5 }),
      {
        protocol: 'ssh',
      },
    );
    assert.deepEqual([done.class_uid, done.activity_name, done.exit_code], [1007, 'Terminate', 3]);
    assert.match(done.message, /exit 3/);
  });

  test('a shell, sftp session or forward is SSH Activity: Open; a refused host key is Refuse', () => {
    const shell = map(
      ev('command.requested', {
        command: { kind: 'shell', text: 'interactive shell', channel: 0 },
        decision: 'hold',
      }),
    );
    assert.deepEqual([shell.class_uid, shell.activity_id, shell.status], [4007, 1, 'Held']);
    const closed = map(ev('command.completed', { outcome: 'ok', bytes: 1, durationMs: 1 }), {
      protocol: 'ssh',
    });
    assert.deepEqual([closed.class_uid, closed.activity_name], [4007, 'Close']);
    const refused = map(
      ev('host_key.rejected', { host: 'web', port: 22, fingerprint: 'SHA256:y' }),
    );
    assert.equal(refused.severity_id, 4);
    assert.deepEqual(refused.dst_endpoint, { hostname: 'web', port: 22, name: 'clinic' });
  });

  test('a transferred file carries its path, size and SHA-256', () => {
    const o = map(
      ev('file.transferred', {
        via: 'scp',
        path: '/srv/a.csv',
        direction: 'upload',
        bytes: 7,
        sha256: 'ab',
        complete: true,
      }),
    );
    assert.deepEqual(
      [o.activity_name, o.file.name, o.file.size, o.file.hashes[0].value],
      ['Upload', 'a.csv', 7, 'ab'],
    );
    const cut = map(
      ev('file.transferred', { path: '/x', direction: 'download', bytes: 1, complete: false }),
    );
    assert.equal(cut.status, 'Failure');
  });
});

describe('parseEndpoint', () => {
  test('reads IPv4, bracketed IPv6 and bare addresses', () => {
    assert.deepEqual(parseEndpoint('1.2.3.4:5678'), { ip: '1.2.3.4', port: 5678 });
    assert.deepEqual(parseEndpoint('[::1]:5678'), { ip: '::1', port: 5678 });
    assert.deepEqual(parseEndpoint('::1'), { ip: '::1' });
  });

  test('rejects what is not an IP endpoint', () => {
    assert.equal(parseEndpoint('/tmp/.s.PGSQL.5432'), null);
    assert.equal(parseEndpoint('host.example:5432'), null);
    assert.equal(parseEndpoint(''), null);
  });
});
