/**
 * A disposable stack for integration tests: a real PostgreSQL (SCRAM auth, TLS) with the sample
 * clinic data, and a gateway in front of it on a free port, with a fresh data folder.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/loader.ts';
import { type LocalPostgres, startLocalPostgres } from '../../src/demo/local-postgres.ts';
import type { PolicyEngine } from '../../src/policy/policy.ts';
import { type Gateway, startGateway } from '../../src/server/gateway.ts';
import { createLogger, type Logger, silentLogger } from '../../src/telemetry/logger.ts';

export const SAMPLE_SQL = readFileSync(
  new URL('../../src/demo/sample-data.sql', import.meta.url),
  'utf8',
);

export interface Stack extends AsyncDisposable {
  readonly pg: LocalPostgres;
  readonly gw: Gateway;
  readonly port: number;
  readonly dataDir: string;
  readonly dbPassword: string;
  /** A valid token for owner `olivia.owner@example.com`, agent `ci-agent`. */
  readonly token: string;
  /** libpq connection string through the gateway. */
  conninfo(extra?: Record<string, string>): string;
  /** Runs psql through the gateway; resolves with exit code and output. */
  psql(args: string[], opts?: { input?: string; env?: Record<string, string> }): Promise<RunResult>;
  close(): Promise<void>;
}

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface StackOptions {
  readonly yaml?: (base: { pgPort: number }) => string;
  readonly policy?: PolicyEngine;
  readonly logger?: Logger;
  readonly pg?: LocalPostgres;
}

/**
 * @example
 * await using stack = await startStack();
 * const r = await stack.psql(['-c', 'select 1']);
 */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const pg = opts.pg ?? (await startLocalPostgres({ ssl: true }));
  const dbPassword = `pw-${Math.random().toString(36).slice(2)}`;
  if (!opts.pg) {
    await pg.createRole('clinic_app', dbPassword);
    await pg.createDatabase('clinic', 'clinic_app');
    await pg.sql('clinic', `SET ROLE clinic_app;\n${SAMPLE_SQL}`);
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'airlock-it-'));
  const yaml = (opts.yaml ?? defaultYaml)({ pgPort: pg.port });
  const cfg = parseConfig(yaml, 'test', { ...process.env, CLINIC_DB_PASSWORD: dbPassword });
  const logger =
    opts.logger ?? (process.env.GW_DEBUG ? createLogger({ level: 'debug' }) : silentLogger);
  const gw = await startGateway(
    { ...cfg, data_dir: dataDir },
    { logger, ...(opts.policy ? { policy: opts.policy } : {}) },
  );
  const port = gw.addresses.postgres?.port ?? 0;
  const { token } = gw.tokens.create({
    owner: 'olivia.owner@example.com',
    name: 'ci-agent',
    groups: ['engineering'],
    purpose: 'integration tests',
    ttlMs: 3_600_000,
  });
  const conninfo = (extra: Record<string, string> = {}): string => {
    const params = {
      host: '127.0.0.1',
      port: String(port),
      dbname: 'clinic',
      user: 'agent',
      sslmode: 'require',
      password: token,
      ...extra,
    };
    return Object.entries(params)
      .map(([k, v]) => `${k}='${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`)
      .join(' ');
  };
  const close = async (): Promise<void> => {
    await gw.close();
    if (!opts.pg) await pg.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  return {
    pg,
    gw,
    port,
    dataDir,
    dbPassword,
    token,
    conninfo,
    psql: (args, o = {}) =>
      run('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-d', conninfo(), ...args], o),
    close,
    [Symbol.asyncDispose]: close,
  };
}

export function defaultYaml({ pgPort }: { pgPort: number }): string {
  return `
listen:
  postgres: 127.0.0.1:0
audit:
  sync: normal
connections:
  - name: clinic
    type: postgres
    host: 127.0.0.1
    port: ${pgPort}
    database: clinic
    user: clinic_app
    password: \${env:CLINIC_DB_PASSWORD}
    ssl: require
`;
}

/** Runs a program, collecting output. Never rejects for a non-zero exit. */
export function run(
  cmd: string,
  args: string[],
  opts: { input?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: { ...process.env, PGCONNECT_TIMEOUT: '10', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}
