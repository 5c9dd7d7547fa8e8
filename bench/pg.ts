/**
 * `npm run bench:pg`: pgbench -S at 1 and 8 clients against PostgreSQL directly, through
 * pgbouncer (session pooling), and through Airlock with audit on (fsync group commit), in one
 * run, interleaved round by round. Prints tps and average latency per target (median of the
 * rounds) and the ratios Airlock/direct and Airlock/pgbouncer.
 *
 * A second gateway with `audit.sync: normal` runs alongside, to show the fsync's share apart, and
 * a bare Node.js TCP relay (bench/lib/node-relay.ts: bytes piped both ways, nothing parsed or
 * recorded), to show what any Node.js data path costs on the same machine before it does any work.
 *
 * Env: BENCH_SECONDS (10), BENCH_ROUNDS (3), BENCH_SCALE (10), BENCH_CLIENTS ("1,8"),
 * BENCH_WARMUP_SECONDS (5: a run per target before the measured rounds, not counted),
 * BENCH_AIRLOCK_NODE_ARGS (extra node flags for the gateways).
 * Everything listens on 127.0.0.1 and stops by itself.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalPostgres } from '../src/demo/local-postgres.ts';
import { benchToken, spawnAirlock } from './lib/airlock.ts';
import { freePort, waitForPort } from './lib/net.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SCALE = Number(process.env.BENCH_SCALE ?? 10);
const CLIENTS = (process.env.BENCH_CLIENTS ?? '1,8').split(',').map(Number);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 5);

interface Target {
  readonly name: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** The proxy's process, whose CPU time per transaction is reported. */
  readonly pid?: number | undefined;
}

interface Sample {
  readonly tps: number;
  readonly latencyMs: number;
  /** The proxy's CPU time (all its threads, user + system) per transaction, in µs. */
  readonly cpuUsPerTx?: number | undefined;
}

/** CPU seconds a process has used so far (all threads, user + system), from /proc. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function findPgbouncer(): string {
  for (const p of ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer']) if (existsSync(p)) return p;
  log('pgbouncer not found; installing the Debian package...');
  const apt = (args: string[]): void => {
    execFileSync('apt-get', args, {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  };
  try {
    apt(['install', '-y', '-q', 'pgbouncer']);
  } catch {
    apt(['update', '-q']);
    apt(['install', '-y', '-q', 'pgbouncer']);
  }
  execFileSync('sh', [
    '-c',
    'systemctl stop pgbouncer 2>/dev/null || service pgbouncer stop 2>/dev/null || true',
  ]);
  return '/usr/sbin/pgbouncer';
}

function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
  return { uid, gid };
}

async function startPgbouncer(
  dir: string,
  pgPort: number,
  user: string,
  password: string,
): Promise<{ port: number; pid: number | undefined }> {
  const bin = findPgbouncer();
  const port = await freePort();
  const runAs = postgresUser();
  writeFileSync(join(dir, 'userlist.txt'), `"${user}" "${password}"\n`, { mode: 0o600 });
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    `[databases]
clinic = host=127.0.0.1 port=${pgPort} dbname=clinic
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = ${join(dir, 'userlist.txt')}
pool_mode = session
max_client_conn = 100
default_pool_size = 20
logfile =
pidfile =
`,
  );
  if (runAs) {
    chownSync(dir, runAs.uid, runAs.gid);
    for (const f of ['userlist.txt', 'pgbouncer.ini'])
      chownSync(join(dir, f), runAs.uid, runAs.gid);
  }
  const child = spawn(bin, ['-q', join(dir, 'pgbouncer.ini')], {
    stdio: ['ignore', 'ignore', 'inherit'],
    ...(runAs ?? {}),
  });
  children.push(child);
  await waitForPort(port, child, 'pgbouncer', 100);
  return { port, pid: child.pid };
}

/** The bare Node.js relay (bench/lib/node-relay.ts) in front of PostgreSQL. */
async function startNodeRelay(pgPort: number): Promise<{ port: number; pid: number | undefined }> {
  const port = await freePort();
  const script = new URL('./lib/node-relay.ts', import.meta.url).pathname;
  const child = spawn(process.execPath, [script, String(port), String(pgPort)], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  await waitForPort(port, child, 'node relay', 100);
  return { port, pid: child.pid };
}

async function startAirlock(
  dir: string,
  pgPort: number,
  user: string,
  password: string,
  sync: 'full' | 'normal',
): Promise<{ port: number; token: string; pid: number | undefined }> {
  const port = await freePort();
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'airlock.yaml');
  writeFileSync(join(dir, 'db-password'), password, { mode: 0o600 });
  writeFileSync(
    config,
    `listen:
  postgres: 127.0.0.1:${port}
data_dir: ${join(dir, 'data')}
log:
  level: warn
audit:
  sync: ${sync}
connections:
  - name: clinic
    type: postgres
    host: 127.0.0.1
    port: ${pgPort}
    database: clinic
    user: ${user}
    password: \${file:${join(dir, 'db-password')}}
    ssl: disable
`,
  );
  const token = benchToken(config, 'pgbench');
  const child = spawnAirlock(config);
  children.push(child);
  await waitForPort(port, child, 'airlock', 100);
  return { port, token, pid: child.pid };
}

function pgbench(t: Target, clients: number, extra: string[], seconds = SECONDS): Sample {
  const cpuBefore = t.pid === undefined ? 0 : cpuSeconds(t.pid);
  const threads = Math.min(clients, cpus().length);
  const out = execFileSync(
    'pgbench',
    [
      '-h',
      '127.0.0.1',
      '-p',
      String(t.port),
      '-U',
      t.user,
      '-n',
      '-S',
      '-c',
      String(clients),
      '-j',
      String(threads),
      '-T',
      String(seconds),
      ...extra,
      'clinic',
    ],
    {
      env: { ...process.env, PGPASSWORD: t.password, PGSSLMODE: 'disable' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  ).toString();
  const tps = Number(/tps = ([\d.]+)/.exec(out)?.[1]);
  const latencyMs = Number(/latency average = ([\d.]+) ms/.exec(out)?.[1]);
  if (!Number.isFinite(tps))
    throw new Error(`could not parse pgbench output for ${t.name}:\n${out}`);
  const transactions = Number(/actually processed: (\d+)/.exec(out)?.[1]);
  const cpuUsPerTx =
    t.pid === undefined ? undefined : ((cpuSeconds(t.pid) - cpuBefore) * 1e6) / transactions;
  return { tps, latencyMs, cpuUsPerTx };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-bench-'));
  mkdirSync(join(dir, 'data'), { recursive: true });
  log(
    `bench: ${cpus().length} cpus, ${SECONDS}s x ${ROUNDS} rounds, scale ${SCALE}, clients ${CLIENTS.join(',')}`,
  );
  const pg = await startLocalPostgres({ ssl: false });
  try {
    const user = 'bench';
    const password = `pw-${Date.now().toString(36)}`;
    await pg.createRole(user, password);
    await pg.createDatabase('clinic', user);
    execFileSync(
      'pgbench',
      [
        '-h',
        '127.0.0.1',
        '-p',
        String(pg.port),
        '-U',
        user,
        '-i',
        '-q',
        '-s',
        String(SCALE),
        'clinic',
      ],
      {
        env: { ...process.env, PGPASSWORD: password, PGSSLMODE: 'disable' },
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    const bouncer = await startPgbouncer(join(dir), pg.port, user, password);
    const relay = await startNodeRelay(pg.port);
    // SCRAM by token id: no TLS on any path, so they compare like for like
    const gateway = async (name: string, sync: 'full' | 'normal'): Promise<Target> => {
      const a = await startAirlock(join(dir, name), pg.port, user, password, sync);
      const tokenId = a.token.split('_')[1] as string;
      return { name, port: a.port, user: tokenId, password: a.token, pid: a.pid };
    };
    const targets: Target[] = [
      { name: 'direct', port: pg.port, user, password },
      { name: 'pgbouncer', port: bouncer.port, user, password, pid: bouncer.pid },
      { name: RELAY, port: relay.port, user, password, pid: relay.pid },
      await gateway('airlock', 'full'),
      await gateway(NORMAL, 'normal'),
    ];
    const results = run(targets);
    report(results);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

type Results = Map<string, Map<number, Sample[]>>;

/** The bare Node.js relay: the cost of Node.js and the kernel alone, the floor of any JS proxy. */
const RELAY = 'node-relay';

/** The gateway with `audit.sync: normal`: the cost of the fsync behind each statement, apart. */
const NORMAL = 'airlock-sync-normal';

function run(targets: Target[]): Results {
  const results: Results = new Map(targets.map((t) => [t.name, new Map()]));
  // Not counted: every target serves the most clients for WARMUP_SECONDS first. A Node.js
  // process compiles its hot paths in the background during its first seconds of load (V8's
  // optimising compiler, on the same two cores), which would land in the gateways' first round.
  for (const t of targets) pgbench(t, Math.max(...CLIENTS), [], WARMUP_SECONDS);
  for (const clients of CLIENTS) {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const t of targets) {
        const s = pgbench(t, clients, []);
        const perClients = results.get(t.name) as Map<number, Sample[]>;
        perClients.set(clients, [...(perClients.get(clients) ?? []), s]);
        const cpu = s.cpuUsPerTx === undefined ? '' : ` cpu=${s.cpuUsPerTx.toFixed(0)}µs/tx`;
        log(
          `  clients=${clients} round=${round} ${t.name.padEnd(19)} tps=${s.tps.toFixed(0)} lat=${s.latencyMs.toFixed(3)}ms${cpu}`,
        );
      }
    }
  }
  return results;
}

function report(results: Results): void {
  const pick = (name: string, clients: number): Sample => {
    const xs = results.get(name)?.get(clients) ?? [];
    return {
      tps: median(xs.map((x) => x.tps)),
      latencyMs: median(xs.map((x) => x.latencyMs)),
      cpuUsPerTx: median(xs.map((x) => x.cpuUsPerTx ?? 0)),
    };
  };
  const lines = ['', `pgbench -S, ${SECONDS}s per run, median of ${ROUNDS} interleaved rounds`, ''];
  lines.push(
    '| clients | direct tps | pgbouncer tps | airlock tps | airlock lat ms | airlock/direct | airlock/pgbouncer | pgbouncer CPU µs/tx | airlock CPU µs/tx |',
  );
  lines.push('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const c of CLIENTS) {
    const d = pick('direct', c);
    const b = pick('pgbouncer', c);
    const a = pick('airlock', c);
    lines.push(
      `| ${c} | ${d.tps.toFixed(0)} | ${b.tps.toFixed(0)} | ${a.tps.toFixed(0)} | ${a.latencyMs.toFixed(3)} | ${(a.tps / d.tps).toFixed(2)} | ${(a.tps / b.tps).toFixed(2)} | ${b.cpuUsPerTx?.toFixed(0)} | ${a.cpuUsPerTx?.toFixed(0)} |`,
    );
  }
  lines.push(
    '',
    'The same gateway with `audit.sync: normal` (each record written before the statement runs, durable against a gateway crash, not a power loss), and a bare Node.js TCP relay (bytes piped both ways; nothing parsed, judged or recorded):',
    '',
    '| clients | sync normal tps | lat ms | /pgbouncer | CPU µs/tx | node relay tps | /pgbouncer | CPU µs/tx |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const c of CLIENTS) {
    const n = pick(NORMAL, c);
    const r = pick(RELAY, c);
    const b = pick('pgbouncer', c).tps;
    lines.push(
      `| ${c} | ${n.tps.toFixed(0)} | ${n.latencyMs.toFixed(3)} | ${(n.tps / b).toFixed(2)} | ${n.cpuUsPerTx?.toFixed(0)} | ${r.tps.toFixed(0)} | ${(r.tps / b).toFixed(2)} | ${r.cpuUsPerTx?.toFixed(0)} |`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  log(`bench failed: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
