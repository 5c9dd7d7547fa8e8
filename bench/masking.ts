/**
 * `npm run bench:masking`: the cost of inline masking.
 *
 * 1. Detector precision and recall per type on the labelled corpus (target ≥ 0.95), and
 *    `scan()` throughput on typical values (bench/masking-detectors.ts).
 * 2. DataRow masking throughput inside the gateway, MB/s of DataRow messages per core, for a
 *    typical result and a finding-dense one (bench/masking-datarow.ts; target ≥ 80 MB/s).
 * 3. A large SELECT (BENCH_ROWS patient-like rows, default 200 000: ids, names, SSNs, e-mails,
 *    phones, clinical notes, dates) read with `pg` directly from PostgreSQL, through Airlock on a
 *    connection without masking rules, and through Airlock on connections with column rules only,
 *    and with a column rule plus four detector types scanned in every value (style full, and style
 *    hash: one HMAC per distinct finding). Rounds are interleaved; medians are printed with the
 *    masked/unmasked time ratio (target ≤ 1.5×) and the gateway's CPU time per SELECT.
 *
 * Env: BENCH_ROWS (200000), BENCH_ROUNDS (5), BENCH_SECONDS (detector bench, 3). Everything
 * listens on 127.0.0.1 and stops by itself.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startLocalPostgres } from '../src/demo/local-postgres.ts';
import { formatTable } from '../src/masking/detectors/testing/corpus.ts';
import { benchToken, spawnAirlock } from './lib/airlock.ts';
import { freePort, waitForPort } from './lib/net.ts';
import { type DataRowBenchResult, runDataRowBench } from './masking-datarow.ts';
import { type DetectorBenchResult, runDetectorBench } from './masking-detectors.ts';

const ROWS = Number(process.env.BENCH_ROWS ?? 200_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const QUERY = 'SELECT * FROM people';

const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

const SEED = `
CREATE TABLE people AS
SELECT i AS id,
  (ARRAY['Amelia','Benjamin','Chloe','Daniel','Elena','Farid','Grace','Hiroshi'])[i % 8 + 1] AS first_name,
  (ARRAY['Okafor','Lindqvist','Martinez','Chen','Novak','Haddad','Whitfield'])[i % 7 + 1] AS last_name,
  lpad((100 + i * 37 % 560)::text, 3, '0') || '-' || lpad((10 + i * 13 % 89)::text, 2, '0') || '-' ||
    lpad((1000 + i * 379 % 8999)::text, 4, '0') AS ssn,
  'patient' || i || '@example.com' AS email,
  '(617) 555-01' || lpad((i % 100)::text, 2, '0') AS phone,
  (ARRAY['Type 2 diabetes without complications; HbA1c 7.4%. Diet plan reviewed.',
         'Essential hypertension; BP 148/92 on two readings. Started ACE inhibitor.',
         'Acute upper respiratory infection; afebrile, lungs clear. Supportive care.',
         'Low back pain after lifting; no red flags. Physical therapy referral.'])[i % 4 + 1] AS notes,
  date '1940-01-01' + (i * 7 % 25000) AS date_of_birth
FROM generate_series(1, ${ROWS}) AS i;
`;

async function startAirlock(dir: string, pgPort: number, user: string, password: string) {
  const port = await freePort();
  const config = join(dir, 'airlock.yaml');
  writeFileSync(join(dir, 'db-password'), password, { mode: 0o600 });
  writeFileSync(join(dir, 'salt'), 'bench-masking-salt-0123456789abcdef', { mode: 0o600 });
  const conn = (name: string) => `  - name: ${name}
    type: postgres
    host: 127.0.0.1
    port: ${pgPort}
    database: bench
    user: ${user}
    password: \${file:${join(dir, 'db-password')}}
    ssl: disable
`;
  writeFileSync(
    config,
    `listen:
  postgres: 127.0.0.1:${port}
data_dir: ${join(dir, 'data')}
log:
  level: warn
audit:
  sync: normal
masking:
  salt: \${file:${join(dir, 'salt')}}
  rules:
    - name: ssn
      connections: [columns, types, types_hash]
      columns: ['people.ssn']
    - name: email-column
      connections: [columns]
      columns: ['people.email']
      style: hash
    - name: contact
      connections: [types]
      types: [email, phone, us_ssn, credit_card]
    - name: contact-hash
      connections: [types_hash]
      types: [email, phone, us_ssn, credit_card]
      style: hash
connections:
${conn('plain')}${conn('columns')}${conn('types')}${conn('types_hash')}`,
  );
  const token = benchToken(config, 'masking-bench');
  const child = spawnAirlock(config);
  children.push(child);
  await waitForPort(port, child, 'airlock', 150);
  return { port, token, pid: child.pid };
}

interface Target {
  readonly name: string;
  readonly config: pg.ClientConfig;
}

/** One full read of the result; returns milliseconds and checks what came back. */
async function readAll(t: Target): Promise<{ ms: number; masked: boolean }> {
  const c = new pg.Client(t.config);
  await c.connect();
  try {
    const start = performance.now();
    const r = await c.query({ text: QUERY, rowMode: 'array' });
    const ms = performance.now() - start;
    if (r.rows.length !== ROWS) throw new Error(`${t.name}: ${r.rows.length} rows`);
    const first = r.rows[0] as unknown[];
    return { ms, masked: first[3] === '****' && /^(tok_|\*\*\*\*$)/.test(String(first[4])) };
  } finally {
    await c.end();
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};

async function main(): Promise<void> {
  log(`bench:masking: ${cpus().length} cpus, ${ROWS} rows x ${ROUNDS} rounds`);
  log('detectors and DataRow masking, one core (CPU time)...');
  const detectors = runDetectorBench();
  const dataRows = runDataRowBench();
  const dir = mkdtempSync(join(tmpdir(), 'airlock-bench-masking-'));
  mkdirSync(join(dir, 'data'), { recursive: true });
  const db = await startLocalPostgres({ ssl: false });
  try {
    const user = 'bench';
    const password = `pw-${Date.now().toString(36)}`;
    await db.createRole(user, password);
    await db.createDatabase('bench', user);
    await db.sql('bench', `SET ROLE ${user};\n${SEED}`);
    const airlock = await startAirlock(dir, db.port, user, password);
    const tokenId = airlock.token.split('_')[1] as string;
    const via = (database: string): pg.ClientConfig => ({
      host: '127.0.0.1',
      port: airlock.port,
      database,
      user: tokenId,
      password: airlock.token,
      ssl: false,
    });
    const targets: Target[] = [
      {
        name: 'direct',
        config: { host: '127.0.0.1', port: db.port, database: 'bench', user, password },
      },
      { name: 'airlock', config: via('plain') },
      { name: 'columns', config: via('columns') },
      { name: 'types', config: via('types') },
      { name: 'types+hash', config: via('types_hash') },
    ];
    const times = new Map<string, number[]>(targets.map((t) => [t.name, []]));
    const cpu = new Map<string, number[]>(targets.map((t) => [t.name, []]));
    for (const t of targets) await readAll(t); // warm up caches, JIT and the catalog lookup
    for (let round = 1; round <= ROUNDS; round++) {
      for (const t of targets) {
        const before = gatewayCpuMs(airlock.pid);
        const r = await readAll(t);
        cpu.get(t.name)?.push(gatewayCpuMs(airlock.pid) - before);
        const masking = t.name !== 'direct' && t.name !== 'airlock';
        if (masking !== r.masked) throw new Error(`${t.name}: masking state wrong`);
        times.get(t.name)?.push(r.ms);
        log(`  round ${round} ${t.name.padEnd(15)} ${r.ms.toFixed(0)} ms`);
      }
    }
    report(detectors, dataRows, times, cpu);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    await db.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * CPU time (user + system, ms, 10 ms ticks) the gateway process has used so far: steadier than
 * wall time on a shared machine. 0 when unknown (no /proc).
 */
function gatewayCpuMs(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) * (1000 / 100);
  } catch {
    return 0;
  }
}

function report(
  detectors: DetectorBenchResult,
  dataRows: DataRowBenchResult,
  times: Map<string, number[]>,
  cpu: Map<string, number[]>,
) {
  const m = (name: string) => median(times.get(name) ?? []);
  const best = (name: string) => Math.min(...(times.get(name) ?? []));
  const plain = m('airlock');
  const plainBest = best('airlock');
  const rows: [string, string][] = [
    ['PostgreSQL direct', 'direct'],
    ['Airlock, no masking rules', 'airlock'],
    ['Airlock, column rules only (ssn full, email hash)', 'columns'],
    ['Airlock, ssn column + 4 detector types in every value, full', 'types'],
    ['Airlock, ssn column + 4 detector types in every value, hash', 'types+hash'],
  ];
  const lines = [
    '',
    'Detector accuracy on the labelled corpus (test/fixtures/masking/corpus.jsonl; target >= 0.95):',
    '',
    formatTable(detectors.table),
    '',
    `detectors.scan() on typical values: ${detectors.mbPerSec.toFixed(1)} MB/s per core (a bare character loop over the same values: ${detectors.referenceMbPerSec.toFixed(0)} MB/s on this machine)`,
    '',
    'DataRow masking in the gateway, MB/s of DataRow messages per core (target >= 80 for the scan of a typical result):',
    '',
    '| setup | MB/s | µs/row |',
    '| --- | ---: | ---: |',
    ...Object.keys(dataRows.mbPerSec).map(
      (k) => `| ${k} | ${dataRows.mbPerSec[k]?.toFixed(1)} | ${dataRows.usPerRow[k]?.toFixed(2)} |`,
    ),
    '',
    `${QUERY}: ${ROWS} rows with pg, median of ${ROUNDS} interleaved rounds`,
    '',
    '| target | median ms | rows/s | vs unmasked Airlock | best ms | best vs best | gateway CPU ms |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(([label, name]) => {
      const ms = m(name);
      const b = best(name);
      const c = name === 'direct' ? '-' : median(cpu.get(name) ?? []).toFixed(0);
      return `| ${label} | ${ms.toFixed(0)} | ${((ROWS / ms) * 1000).toFixed(0)} | ${(ms / plain).toFixed(2)}x | ${b.toFixed(0)} | ${(b / plainBest).toFixed(2)}x | ${c} |`;
    }),
    '',
    'target: masked / unmasked through Airlock <= 1.5x (gateway CPU ms: median per SELECT, from /proc)',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  log(`bench failed: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
