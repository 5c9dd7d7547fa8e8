import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { ConfigError, loadConfig, parseConfig } from './loader.ts';
import type { AirlockConfig, PostgresConnectionConfig } from './schema.ts';

const VALID = `
listen:
  postgres: 127.0.0.1:15432
connections:
  - name: clinic
    type: postgres
    host: db.internal
    database: clinic
    user: app
    password: \${env:CLINIC_PW}
`;

function problems(text: string, env: NodeJS.ProcessEnv = { CLINIC_PW: 'x' }): string[] {
  try {
    parseConfig(text, 'test.yaml', env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return [...err.problems];
  }
  assert.fail('config was accepted');
}

function pgConnection(cfg: AirlockConfig): PostgresConnectionConfig | undefined {
  const c = cfg.connections[0];
  return c?.type === 'postgres' ? c : undefined;
}

describe('config loader', () => {
  it('accepts a valid config, applies defaults and substitutes secrets from the environment', () => {
    const cfg = parseConfig(VALID, 'test.yaml', { CLINIC_PW: 's3cret' });
    const conn = pgConnection(cfg);
    assert.equal(conn?.port, 5432);
    assert.equal(conn?.ssl, 'prefer');
    assert.equal(conn?.password.reveal(), 's3cret');
    assert.equal(cfg.audit.sync, 'full');
  });

  it('never prints a secret', () => {
    const cfg = parseConfig(VALID, 'test.yaml', { CLINIC_PW: 's3cret' });
    assert.ok(!JSON.stringify(cfg).includes('s3cret'));
    assert.ok(!inspect(cfg, { depth: 10 }).includes('s3cret'));
    assert.ok(!String(pgConnection(cfg)?.password).includes('s3cret'));
  });

  it('names the missing environment variable and the key', () => {
    assert.deepEqual(problems(VALID, {}), [
      'connections[0].password: environment variable CLINIC_PW is not set',
    ]);
  });

  it('reads secrets from files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-cfg-'));
    writeFileSync(join(dir, 'pw'), 'from-file\n');
    const cfg = parseConfig(
      VALID.replace(`\${env:CLINIC_PW}`, `\${file:${join(dir, 'pw')}}`),
      't',
      {},
    );
    assert.equal(pgConnection(cfg)?.password.reveal(), 'from-file');
  });

  it('names the key and the reason for schema errors', () => {
    assert.deepEqual(
      problems(VALID.replace('host: db.internal', 'host: db.internal\n    port: "nope"')),
      ['connections[0].port: Invalid input: expected number, received string'],
    );
    const p = problems(VALID.replace('127.0.0.1:15432', 'localhost'));
    assert.match(p[0] ?? '', /^listen\.postgres: expected host:port/);
    const unknown = problems(`${VALID}\nlisen: {}\n`);
    assert.match(unknown[0] ?? '', /lisen/);
  });

  it('rejects duplicate connection names and unknown connection types', () => {
    const conn = VALID.split('connections:\n')[1] ?? '';
    assert.deepEqual(problems(VALID + conn), [
      'connections[1].name: duplicate connection "clinic"',
    ]);
    assert.match(
      problems(VALID.replace('type: postgres', 'type: mongodb'))[0] ?? '',
      /^connections\[0\]\.type/,
    );
  });

  it('reports YAML syntax errors', () => {
    assert.match(problems('listen: [unclosed')[0] ?? '', /^YAML/);
  });

  it('reports an unreadable file', () => {
    assert.throws(() => loadConfig('/nonexistent/airlock.yaml'), /cannot read file: ENOENT/);
  });

  it('resolves data_dir relative to the config file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-cfg-'));
    writeFileSync(join(dir, 'airlock.yaml'), 'data_dir: ./state\n');
    assert.equal(loadConfig(join(dir, 'airlock.yaml')).data_dir, join(dir, 'state'));
  });
});
