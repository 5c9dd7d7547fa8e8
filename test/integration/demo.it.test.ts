/**
 * The README's first command: `airlock demo` as a user runs it (its own process), the psql line
 * it prints, its policy, the web console it serves with its demo identity provider (a real
 * Chromium signs in and approves a held UPDATE), and a clean stop on Ctrl-C (SIGINT).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { chromium } from 'playwright-core';
import { ensureChromium } from '../helpers/browser.ts';
import { spawnCli } from '../helpers/gateway-process.ts';
import { run } from '../helpers/stack.ts';

const dir = mkdtempSync(join(tmpdir(), 'airlock-demo-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('airlock demo', () => {
  it('prints a working psql line, enforces its policy, and stops cleanly on SIGINT', async () => {
    const demo = spawnCli(['demo', '--port', '0', '--console-port', '0', '--dir', dir]);
    const conninfo = await demo.waitFor(/psql "([^"]+)"/, 'stdout');
    const consoleUrl = await demo.waitFor(/Web console: (http:\/\/127\.0\.0\.1:\d+)\//, 'stdout');
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
    await approveInConsole(consoleUrl, conninfo);
    demo.child.kill('SIGINT');
    const done = await demo.result;
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stderr, /stopping the gateway and PostgreSQL/);
  });
});

/** Signs in to the demo console as `sam` (the DBA) and approves the agent's held UPDATE. */
async function approveInConsole(consoleUrl: string, conninfo: string): Promise<void> {
  const chrome = ensureChromium();
  if ('missing' in chrome) return;
  const browser = await chromium.launch({ executablePath: chrome.path, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(`${consoleUrl}/`);
    await page.getByRole('link', { name: 'Sign in' }).click();
    await page.locator('input[name=login]').fill('sam');
    await page.locator('input[name=password]').fill('any');
    await page.locator('button[type=submit]').click();
    await page.locator('button[type=submit]').click(); // consent
    await page.getByText('sam.dba@example.com').waitFor();
    const update = run('psql', [
      '-X',
      '-d',
      conninfo,
      '-c',
      "UPDATE patients SET phone = '555-0100' WHERE id = 1",
    ]);
    const card = page.getByRole('article', { name: /Review r_/ });
    await card.getByText("UPDATE patients SET phone = '555-0100' WHERE id = 1").waitFor();
    await card.getByLabel('Reason').fill('demo');
    await card.getByRole('button', { name: 'Approve' }).click();
    const done = await update;
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, /UPDATE 1/);
  } finally {
    await browser.close();
  }
}
