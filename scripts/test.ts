// `npm test`: type-check, lint, then every test (unit, component, integration against a real
// PostgreSQL started by the harness) with node:test. The last lines are node:test's summary.
import { spawnSync } from 'node:child_process';
import { globSync } from 'node:fs';

function run(label: string, cmd: string, args: string[]): void {
  process.stdout.write(`\n== ${label}\n`);
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) {
    process.stdout.write(`\n${label} failed\n0 passed, 1 failed\n`);
    process.exit(r.status ?? 1);
  }
}

const only = process.argv.slice(2);
if (only.length === 0) {
  run('typecheck', process.execPath, ['node_modules/typescript/bin/tsc', '--noEmit', '-p', '.']);
  run('typecheck console', process.execPath, [
    'node_modules/typescript/bin/tsc',
    '--noEmit',
    '-p',
    'console/tsconfig.json',
  ]);
  run('lint', process.execPath, [
    'node_modules/@biomejs/biome/bin/biome',
    'ci',
    '--colors=off',
    '.',
  ]);
}
const files = only.length > 0 ? only : globSync(['src/**/*.test.ts', 'test/**/*.test.ts']).sort();
process.stdout.write(`\n== tests (${files.length} files)\n`);
const r = spawnSync(
  process.execPath,
  ['--test', '--test-concurrency=2', '--test-timeout=180000', '--test-reporter=spec', ...files],
  { stdio: 'inherit', env: { ...process.env, NODE_NO_WARNINGS: '1' } },
);
process.exit(r.status ?? 1);
