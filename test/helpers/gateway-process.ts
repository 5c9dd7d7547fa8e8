/**
 * A gateway as its own OS process (`airlock serve`), for tests that kill it, restart it, or run
 * two of them against one store.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import pg from 'pg';
import { run } from './stack.ts';

const CLI = new URL('../../src/cli/main.ts', import.meta.url).pathname;

/** Runs the CLI in a child process. */
export const airlockCli = (args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, [CLI, ...args], { env });

/**
 * Runs the CLI in a child process that the test talks to while it runs (e.g. `airlock login`
 * printing an address to open): `waitFor` resolves with the first capture of a stderr match.
 */
export function spawnCli(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '' };
  type Stream = keyof typeof out;
  const watchers: { re: RegExp; stream: Stream; resolve: (s: string) => void }[] = [];
  const check = () => {
    for (const w of watchers.splice(0)) {
      const m = w.re.exec(out[w.stream]);
      if (m) w.resolve(m[1] ?? m[0]);
      else watchers.push(w);
    }
  };
  child.stdout?.on('data', (d: Buffer) => {
    out.stdout += d.toString();
    check();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out.stderr += d.toString();
    check();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const result = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, ...out });
    }),
  );
  return {
    child,
    result,
    /** The first capture of `re` in the stream (stderr by default) once it appears. */
    waitFor(re: RegExp, stream: Stream = 'stderr'): Promise<string> {
      const m = re.exec(out[stream]);
      if (m) return Promise.resolve(m[1] ?? m[0]);
      const found = new Promise<string>((resolve) => watchers.push({ re, stream, resolve }));
      const exited = result.then((r) => {
        throw new Error(`CLI exited (${r.code}) before printing ${re}: ${r.stderr}`);
      });
      return Promise.race([found, exited]);
    },
  };
}

export interface GatewayProcess {
  readonly child: ChildProcess;
  readonly port: number;
  /** Everything the process wrote to stderr so far. */
  log(): string;
  /** SIGTERM, bounded; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `airlock serve --config FILE` and resolves once its PostgreSQL listener is bound. */
export async function startGatewayProcess(
  config: string,
  env: Record<string, string> = {},
): Promise<GatewayProcess> {
  const child = spawn(process.execPath, [CLI, 'serve', '--config', config], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const { promise, resolve, reject } = Promise.withResolvers<number>();
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
    const m = /"msg":"postgres listener ready"[^\n]*"port":(\d+)/.exec(stderr);
    if (m) resolve(Number(m[1]));
  });
  child.once('exit', (code) => reject(new Error(`gateway exited with ${code}: ${stderr}`)));
  const timer = setTimeout(() => reject(new Error(`gateway did not start: ${stderr}`)), 20_000);
  const port = await promise.finally(() => clearTimeout(timer));
  return {
    child,
    port,
    log: () => stderr,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const [code] = (await exited) as [number | null];
      clearTimeout(t);
      return code;
    },
  };
}

/** A `pg` client through the gateway with an Airlock token as the password. */
export function gatewayClient(port: number, token: string): pg.Client {
  return new pg.Client({
    host: '127.0.0.1',
    port,
    user: 'agent',
    password: token,
    database: 'clinic',
    ssl: { rejectUnauthorized: false },
    connectionTimeoutMillis: 10_000,
  });
}
