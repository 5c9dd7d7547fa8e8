import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { loadConfig } from '../../config/loader.ts';
import { DEMO_CLIENT_ID, DEMO_PEOPLE, type DemoIdp, startDemoIdp } from '../../demo/idp.ts';
import { type LocalPostgres, startLocalPostgres } from '../../demo/local-postgres.ts';
import { tokenCreatedEvent } from '../../identity/token-events.ts';
import { startGateway } from '../../server/gateway.ts';
import { createLogger } from '../../telemetry/logger.ts';
import { out, parse, str } from '../args.ts';
import { untilSignal } from '../signals.ts';

export const help =
  'demo [--port 15432] [--console-port 18080] [--dir .airlock/demo]   throwaway PostgreSQL + gateway + console';

const SAMPLE = new URL('../../demo/sample-data.sql', import.meta.url);

/**
 * `airlock demo`: a throwaway PostgreSQL with sample patient data behind the gateway, a demo
 * token, a ready-to-paste psql line, and the web console with a demo identity provider to sign in
 * with. Ctrl-C stops everything.
 */
export async function run(argv: string[]): Promise<number> {
  const { flags } = parse(argv, {
    port: { type: 'string' },
    'console-port': { type: 'string' },
    dir: { type: 'string' },
  });
  const dir = resolve(str(flags, 'dir') ?? '.airlock/demo');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  process.stderr.write('starting a throwaway PostgreSQL with sample patient data...\n');
  const pg = await startLocalPostgres({ ssl: true });
  try {
    return await withPostgres(pg, dir, str(flags, 'port'), str(flags, 'console-port'));
  } finally {
    await pg.stop();
  }
}

async function withPostgres(
  pg: LocalPostgres,
  dir: string,
  portFlag: string | undefined,
  consolePortFlag: string | undefined,
): Promise<number> {
  const password = randomBytes(18).toString('base64url');
  await pg.createRole('clinic_app', password);
  await pg.createDatabase('clinic', 'clinic_app');
  await pg.sql('clinic', `SET ROLE clinic_app;\n${readFileSync(SAMPLE, 'utf8')}`);
  const port = await freePort(Number(portFlag ?? 15432));
  const consolePort = await freePort(Number(consolePortFlag ?? 18080));
  const consoleUrl = `http://127.0.0.1:${consolePort}`;
  const idp = await startDemoIdp(consoleUrl);
  try {
    const configFile = writeDemoConfig(dir, pg, password, port, idp && { consoleUrl, idp });
    return await withGateway(configFile, port, idp && consoleUrl);
  } finally {
    await idp?.close();
  }
}

async function withGateway(
  configFile: string,
  port: number,
  consoleUrl: string | undefined,
): Promise<number> {
  const cfg = loadConfig(configFile);
  const logger = createLogger({ level: 'warn' });
  const gw = await startGateway(cfg, { logger });
  try {
    const { token, record } = gw.tokens.create({
      owner: 'dana.doctor@example.com',
      name: 'demo-agent',
      groups: ['clinicians'],
      purpose: 'the airlock demo',
      ttlMs: 8 * 3_600_000,
    });
    await gw.ledger.append(tokenCreatedEvent(record, { kind: 'cli', identity: 'airlock demo' }));
    banner(gw.addresses.postgres?.port ?? port, token, configFile, consoleUrl);
    await untilSignal();
    process.stderr.write('\nstopping the gateway and PostgreSQL...\n');
  } finally {
    await gw.close();
  }
  return 0;
}

function writeDemoConfig(
  dir: string,
  pg: LocalPostgres,
  password: string,
  port: number,
  web: { consoleUrl: string; idp: DemoIdp } | undefined,
): string {
  const secretFile = resolve(dir, 'clinic-db-password');
  writeFileSync(secretFile, password, { mode: 0o600 });
  const policyFile = resolve(dir, 'policy.yaml');
  writeFileSync(policyFile, DEMO_POLICY);
  const file = resolve(dir, 'airlock.yaml');
  writeFileSync(
    file,
    `# Written by \`airlock demo\`; the database password lives in a separate 0600 file.
listen:
  postgres: 127.0.0.1:${port}
${web ? consoleConfig(web.consoleUrl, web.idp) : ''}data_dir: ./data
audit:
  sync: full
policy:
  file: ${policyFile}
connections:
  - name: clinic
    type: postgres
    host: ${pg.host}
    port: ${pg.port}
    database: clinic
    user: clinic_app
    password: \${file:${secretFile}}
    ssl: require
`,
    { mode: 0o600 },
  );
  return file;
}

/** The console on `listen.http`, signed in through the demo IdP; its groups map to roles. */
function consoleConfig(consoleUrl: string, idp: DemoIdp): string {
  return `  http: ${new URL(consoleUrl).host}
console:
  public_url: ${consoleUrl}
identity:
  oidc:
    - issuer: ${idp.issuer}
      audience: ${DEMO_CLIENT_ID}
      client_id: ${DEMO_CLIENT_ID}
  roles:
    admin: [dba]
    approver: [dba]
    auditor: [compliance, dba]
`;
}

/**
 * The demo's policy: the demo token is an agent's, so destructive statements are refused outright
 * (a real deployment would hold them for a DBA's review; see examples/policy.yaml).
 */
const DEMO_POLICY = `# Written by \`airlock demo\`. Edit it while the demo runs: it is reloaded on change.
version: 1
defaults:
  action: allow
  unparsable: deny
  review_timeout: 5m
  approvers: [{ groups: [dba], min: 1 }]
rules:
  - name: agents-no-drop-truncate
    match: { identity: { is: agent }, facts: [drop, truncate] }
    action: deny
    message: agents may not drop or truncate tables
  - name: agents-no-unbounded-writes
    match: { identity: { is: agent }, facts: [delete_without_where, update_without_where] }
    action: deny
    message: agents may not DELETE or UPDATE without a WHERE clause
  - name: no-server-programs
    match: { facts: [copy_to_program, copy_from_program, copy_to_file, copy_from_file] }
    action: deny
    message: COPY to or from server programs and files is not allowed
  - name: agent-patient-changes-need-a-dba
    match: { identity: { is: agent }, statements: [INSERT, UPDATE, DELETE], tables: [patients] }
    action: review
    message: an agent's change to patients needs a DBA's approval
`;

function banner(
  port: number,
  token: string,
  configFile: string,
  consoleUrl: string | undefined,
): void {
  const rel = configFile.startsWith(process.cwd())
    ? configFile.slice(process.cwd().length + 1)
    : configFile;
  out('');
  out('Airlock demo is running. Connect through the gateway (the password is your Airlock token):');
  out('');
  out(
    `  psql "host=127.0.0.1 port=${port} dbname=clinic user=demo sslmode=require password=${token}"`,
  );
  out('');
  out('Try:  SELECT mrn, first_name, last_name, date_of_birth FROM patients LIMIT 5;');
  out('      DELETE FROM visits;   -- refused by the demo policy (policy.yaml next to the config)');
  if (consoleUrl) {
    out(
      "      UPDATE patients SET phone = '555-0100' WHERE id = 1;   -- held for a DBA's approval",
    );
    out('');
    out(`Web console: ${consoleUrl}/`);
    out('  sign in (demo identity provider, any password) as');
    for (const [login, p] of Object.entries(DEMO_PEOPLE)) out(`    ${login.padEnd(6)} ${p.about}`);
    out('  to approve held statements under Reviews, replay sessions, query and verify the audit.');
    out('');
  }
  out('See what was recorded, in another terminal:');
  out('');
  out(`  npm run airlock -- audit query --config ${rel}`);
  out('');
  out('Press Ctrl-C to stop.');
}

/** The wanted port if it is free, else any free port. */
function freePort(wanted: number): Promise<number> {
  return new Promise((resolvePort) => {
    const s = createServer();
    s.once('error', () => {
      const any = createServer();
      any.listen(0, '127.0.0.1', () => {
        const p = (any.address() as { port: number }).port;
        any.close(() => resolvePort(p));
      });
    });
    s.listen(wanted, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolvePort(p));
    });
  });
}
