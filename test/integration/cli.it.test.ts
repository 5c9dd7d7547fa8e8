/**
 * The `airlock` CLI as a user runs it: separate processes, config files, exit codes, stdout.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SqliteStoreReader } from '../../src/audit/sqlite-reader.ts';
import { run } from '../helpers/stack.ts';

const CLI = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const airlock = (args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, [CLI, ...args], { env });

function configDir(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-cli-'));
  writeFileSync(join(dir, 'airlock.yaml'), yaml);
  return join(dir, 'airlock.yaml');
}

const GOOD = `data_dir: ./data
connections:
  - name: clinic
    type: postgres
    host: 127.0.0.1
    database: clinic
    user: app
    password: \${env:PW}
`;

describe('airlock CLI', () => {
  it('refuses a bad config naming the key and the reason, exit 2', async () => {
    const cfg = configDir(GOOD.replace('host: 127.0.0.1', 'host: 127.0.0.1\n    port: 99999'));
    const r = await airlock(['config', 'check', '--config', cfg], { PW: 'x' });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /connections\[0\]\.port: .*65535/);
    const missing = await airlock([
      'config',
      'check',
      '--config',
      cfg.replace('airlock.yaml', 'nope.yaml'),
    ]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read file: ENOENT/);
  });

  it('names a missing environment secret', async () => {
    const r = await airlock(['config', 'check', '--config', configDir(GOOD)], {});
    assert.equal(r.code, 2);
    assert.match(r.stderr, /connections\[0\]\.password: environment variable PW is not set/);
  });

  it('creates a token printing only the token, lists it, revokes it, and records both', async () => {
    const cfg = configDir(GOOD);
    const env = { PW: 'x' };
    const created = await airlock(
      [
        'token',
        'create',
        '--config',
        cfg,
        '--owner',
        'ada@example.com',
        '--name',
        'ci-job',
        '--purpose',
        'nightly schema checks',
        '--groups',
        'dba,eng',
        '--ttl',
        '2h',
      ],
      env,
    );
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /^alk_[a-z2-7]{12}_[A-Za-z0-9_-]{43}\n$/);
    const id = created.stdout.split('_')[1] as string;
    const list = await airlock(['token', 'list', '--config', cfg, '--json'], env);
    const row = JSON.parse(list.stdout.trim());
    assert.equal(row.id, id);
    assert.equal(row.owner, 'ada@example.com');
    assert.deepEqual(row.groups, ['dba', 'eng']);
    assert.ok(!list.stdout.includes(created.stdout.trim()), 'the secret is never listed');
    assert.equal((await airlock(['token', 'revoke', id, '--config', cfg], env)).code, 0);
    assert.equal((await airlock(['token', 'revoke', id, '--config', cfg], env)).code, 1);
    const q = await airlock(['audit', 'query', '--config', cfg, '--json'], env);
    assert.equal(q.code, 0, q.stderr);
    const v = await airlock(['audit', 'verify', '--config', cfg], env);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /^ok: \d+ events, \d+ signed checkpoints/);
    const ledger = new SqliteStoreReader(join(cfg, '..', 'data', 'ledger.db'));
    try {
      const events = await ledger.query({ types: ['token.created', 'token.revoked'] });
      assert.deepEqual(
        events.map((e) => [e.type, e.data.tokenId]),
        [
          ['token.created', id],
          ['token.revoked', id],
        ],
      );
      assert.ok(!JSON.stringify(events).includes(created.stdout.trim()), 'no secret in the ledger');
    } finally {
      await ledger.close();
    }
  });

  it('rejects unknown commands and flags with usage, exit 2', async () => {
    assert.equal((await airlock(['frobnicate'])).code, 2);
    const r = await airlock(['token', 'create', '--bogus']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bogus/);
  });
});
