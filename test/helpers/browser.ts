/**
 * A real browser for console tests: Debian's chromium driven by playwright-core (no browser
 * download). When /usr/bin/chromium is missing and we are root, it is installed with apt-get, so a
 * fresh CI machine needs nothing else; elsewhere the caller skips with the returned reason.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const CHROMIUM = '/usr/bin/chromium';

/** The chromium path, or the reason there is none. */
export function ensureChromium(): { path: string } | { missing: string } {
  if (existsSync(CHROMIUM)) return { path: CHROMIUM };
  if (process.getuid?.() !== 0)
    return { missing: `${CHROMIUM} missing (apt-get install chromium)` };
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const opts = { stdio: 'ignore' as const, env, timeout: 600_000 };
  let r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], opts);
  if (r.status !== 0) {
    spawnSync('apt-get', ['update'], opts);
    r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], opts);
  }
  return existsSync(CHROMIUM) ? { path: CHROMIUM } : { missing: 'apt-get install chromium failed' };
}
