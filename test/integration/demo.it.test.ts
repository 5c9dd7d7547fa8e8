/**
 * The README's first command: `airlock demo` as a user runs it (its own process), the psql line
 * it prints, its policy, and a clean stop on Ctrl-C (SIGINT).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { spawnCli } from '../helpers/gateway-process.ts';
import { run } from '../helpers/stack.ts';

const dir = mkdtempSync(join(tmpdir(), 'airlock-demo-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('airlock demo', () => {
  it('prints a working psql line, enforces its policy, and stops cleanly on SIGINT', async () => {
    const demo = spawnCli(['demo', '--port', '0', '--dir', dir]);
    const conninfo = await demo.waitFor(/psql "([^"]+)"/, 'stdout');
    const select = await run('psql', [
      '-X',
      '-At',
      '-d',
      conninfo,
      '-c',
      'select count(*) from patients',
    ]);
    assert.equal(select.code, 0, select.stderr);
    assert.ok(Number(select.stdout.trim()) > 0);
    const refused = await run('psql', ['-X', '-d', conninfo, '-c', 'DELETE FROM visits']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /agents may not DELETE or UPDATE without a WHERE clause/);
    demo.child.kill('SIGINT');
    const done = await demo.result;
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stderr, /stopping the gateway and PostgreSQL/);
  });
});
