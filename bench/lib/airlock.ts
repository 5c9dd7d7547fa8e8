/** The gateway under test, as the benches start it: its CLI, a benchmark token, `serve`. */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';

/** The Airlock CLI the benches run. */
export const AIRLOCK_CLI = new URL('../../src/cli/main.ts', import.meta.url).pathname;

/**
 * `airlock token create` for the benchmark's agent (owner bench@example.com); returns the token.
 *
 * @example
 * const token = benchToken('/tmp/bench/airlock.yaml', 'pgbench');
 */
export function benchToken(config: string, name: string): string {
  return execFileSync(process.execPath, [
    AIRLOCK_CLI,
    'token',
    'create',
    '--config',
    config,
    '--owner',
    'bench@example.com',
    '--name',
    name,
    '--purpose',
    'benchmark',
  ])
    .toString()
    .trim();
}

/**
 * `node <flags> <cli> serve --config <config>`, with the extra node flags of
 * BENCH_AIRLOCK_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") for profiling it alone.
 * Its stdout is dropped unless BENCH_AIRLOCK_STDOUT is set (for flags that print there, such as
 * "--trace-gc").
 */
export function spawnAirlock(config: string): ChildProcess {
  const nodeArgs = (process.env.BENCH_AIRLOCK_NODE_ARGS ?? '').split(' ').filter(Boolean);
  return spawn(process.execPath, [...nodeArgs, AIRLOCK_CLI, 'serve', '--config', config], {
    stdio: ['ignore', process.env.BENCH_AIRLOCK_STDOUT ? 'inherit' : 'ignore', 'inherit'],
  });
}
