/**
 * The web console in a real browser (chromium via playwright-core): sign in through a real OIDC
 * provider, approve a held statement and watch psql finish, open the session's replay, play an
 * SSH session's terminal recording (real OpenSSH client and server), run an audit query, and look
 * at every page. Screenshots go to test-artifacts/console/.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type Browser,
  type BrowserContext,
  type ConsoleMessage,
  chromium,
  type Page,
} from 'playwright-core';
import type { AuditEvent } from '../../src/audit/types.ts';
import { ensureChromium } from '../helpers/browser.ts';
import { type LlmUpstream, startLlmUpstream } from '../helpers/llm-upstream.ts';
import { startTestIdp, type TestIdp } from '../helpers/oidc-provider.ts';
import {
  type ClientSetup,
  clientSetup,
  freePort,
  type Sshd,
  ssh,
  sshConnectionYaml,
  startSshd,
} from '../helpers/sshd.ts';
import { type Stack, startStack } from '../helpers/stack.ts';

const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'console');
const CLIENT = 'airlock-console';
const ACCOUNTS = {
  dana: { email: 'dana@example.com', groups: ['dba'] },
  carl: { email: 'carl@example.com', groups: ['clinicians'] },
};
const POLICY = `
version: 1
defaults:
  action: allow
  review_timeout: 60s
  approvers: [{ groups: [dba], min: 1 }]
rules:
  - name: patient-deletes-need-a-dba
    match: { statements: [DELETE], tables: [patients] }
    action: review
    message: Deleting patients needs a DBA
  - name: no-drops
    match: { facts: [drop] }
    action: deny
    message: no drops
`;

const browserCheck = ensureChromium();
let idp: TestIdp;
let stack: Stack;
let sshd: Sshd;
let sshClient: ClientSetup;
let browser: Browser;
let ctx: BrowserContext;
let page: Page;
let base: string;
let apiPort: number;
let llm: LlmUpstream;

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** The first ledger event that `match` accepts, once the gateway has appended it. */
async function ledgerEvent(match: (e: AuditEvent) => boolean): Promise<AuditEvent> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const found = (await stack.gw.ledger.query({})).find(match);
    if (found) return found;
    assert.ok(Date.now() < deadline, 'the ledger event arrives');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The `command.rejected` event, with `status`, that ended the held statement containing `text`. */
async function heldCommand(text: string, status: string): Promise<AuditEvent> {
  const held = await ledgerEvent(
    (e) =>
      e.type === 'command.requested' &&
      e.data.decision === 'hold' &&
      JSON.stringify(e.data.command).includes(text),
  );
  return ledgerEvent(
    (e) =>
      e.type === 'command.rejected' && e.commandId === held.commandId && e.data.status === status,
  );
}

describe('web console in a browser', {
  skip: 'missing' in browserCheck && browserCheck.missing,
}, () => {
  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    // The console is served on `listen.http` under `/` (the ask) and on `listen.api`.
    const httpPort = await freePort();
    apiPort = await freePort();
    base = `http://127.0.0.1:${httpPort}`;
    idp = await startTestIdp({
      accounts: ACCOUNTS,
      clients: [
        {
          client_id: CLIENT,
          application_type: 'web',
          redirect_uris: [`${base}/auth/callback`],
        },
      ],
    });
    const dir = mkdtempSync(join(tmpdir(), 'airlock-console-'));
    const policyFile = join(dir, 'policy.yaml');
    writeFileSync(policyFile, POLICY);
    sshd = await startSshd();
    llm = await startLlmUpstream();
    // The provider's key, as the operator would hand it over (the LLM API itself is a stand-in:
    // the real ones cannot be reached from here).
    process.env.CONSOLE_TEST_LLM_KEY = 'sk-upstream-console-0123456789';
    stack = await startStack({
      yaml: ({ pgPort }) => `
listen:
  postgres: 127.0.0.1:0
  http: 127.0.0.1:${httpPort}
  ssh: 127.0.0.1:0
  api: 127.0.0.1:${apiPort}
audit:
  sync: normal
identity:
  oidc:
    - issuer: ${idp.issuer}
      audience: ${CLIENT}
      client_id: ${CLIENT}
  roles:
    approver: [dba]
    auditor: [dba]
policy:
  file: ${policyFile}
connections:
  - name: clinic
    type: postgres
    host: 127.0.0.1
    port: ${pgPort}
    database: clinic
    user: clinic_app
    password: \${env:CLINIC_DB_PASSWORD}
    ssl: require
    labels: { env: test, data: phi }
${sshConnectionYaml(sshd, 'box')}  - name: assistant
    type: llm
    dialect: openai
    url: ${llm.url}/v1
    api_key: \${env:CONSOLE_TEST_LLM_KEY}
    default: true
`,
    });
    sshClient = clientSetup(
      stack.gw.addresses.ssh?.port ?? 0,
      stack.gw.sshHostKey?.publicLine ?? '',
    );
    await stack.pg.sql(
      'clinic',
      `SET ROLE clinic_app; INSERT INTO patients (id, mrn, first_name, last_name, date_of_birth, ssn)
       VALUES (2001, 'MRN-C2001', 'Console', 'Test', '1980-01-01', '000-00-2001');`,
    );
    const exe = (browserCheck as { path: string }).path;
    browser = await chromium.launch({ executablePath: exe, args: ['--no-sandbox'] });
    ctx = await browser.newContext({
      ignoreHTTPSErrors: true,
      viewport: { width: 1366, height: 860 },
    });
    page = await ctx.newPage();
    page.setDefaultTimeout(15_000);
  });

  after(async () => {
    await browser?.close();
    await stack?.close();
    await sshd?.close();
    await llm?.close();
    if (sshClient) rmSync(sshClient.dir, { recursive: true, force: true });
    await idp?.close();
  });

  it('serves the app with a strict CSP and index.html for client routes', async () => {
    const res = await ctx.request.get(`${base}/sessions/anything`);
    assert.equal(res.status(), 200);
    assert.match(res.headers()['content-type'] ?? '', /^text\/html/);
    const csp = res.headers()['content-security-policy'] ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /'unsafe-(eval|inline)'/, 'only WebAssembly may be compiled');
    const api = await ctx.request.get(`${base}/api/whoami`);
    assert.equal(api.status(), 401);
    const doc = await ctx.request.get(`${base}/api/openapi.json`);
    assert.equal((await doc.json()).openapi, '3.1.0');
    // The same app on the API listener (HTTPS with the gateway's certificate).
    const onApi = await ctx.request.get(`https://127.0.0.1:${apiPort}/reviews`);
    assert.equal(onApi.status(), 200);
    assert.match(onApi.headers()['content-security-policy'] ?? '', /script-src 'self'/);
    // Only the app's pages and files are the console's: a wrong URL is a 404, not its HTML.
    const wrong = await ctx.request.get(`${base}/elsewhere`);
    assert.equal(wrong.status(), 404);
    assert.doesNotMatch(wrong.headers()['content-type'] ?? '', /text\/html/);
    // Connection routes on the HTTP listener stay the gateway's, not the console's.
    const health = await ctx.request.get(`${base}/healthz`);
    assert.deepEqual(await health.json(), { ok: true });
  });

  it('signs in through the OIDC provider (code + PKCE) into a Strict, HttpOnly cookie', async () => {
    await page.goto(`${base}/`);
    await shot('01-sign-in');
    await page.getByRole('link', { name: 'Sign in' }).click();
    await page.locator('input[name=login]').fill('dana');
    await page.locator('input[name=password]').fill('any');
    await page.locator('button[type=submit]').click();
    await page.locator('button[type=submit]').click(); // consent
    await page.getByRole('heading', { name: /Reviews/ }).waitFor();
    assert.equal(new URL(page.url()).origin, base);
    assert.doesNotMatch(page.url(), /code=|token|state=/);
    const cookies = await ctx.cookies(base);
    const session = cookies.find((c) => c.name === 'airlock_session');
    assert.ok(session, 'session cookie set');
    assert.equal(session.httpOnly, true);
    assert.equal(session.secure, true);
    assert.equal(session.sameSite, 'Strict');
    const html = await page.content();
    assert.doesNotMatch(html, /eyJ[A-Za-z0-9_-]{10,}\./, 'no JWT in the page');
    assert.ok(!html.includes(session.value), 'no session id in the page');
    // a state-changing call with the cookie but without the CSRF header is refused
    const forged = await ctx.request.delete(`${base}/api/tokens/aaaaaaaaaaaa`);
    assert.equal(forged.status(), 403);
    assert.match(await forged.text(), /CSRF/);
  });

  it('shows a held statement live; approving it lets psql complete', async () => {
    await page.getByRole('heading', { name: /Reviews/ }).waitFor();
    await page.getByText('live', { exact: true }).waitFor();
    const psql = stack.psql(['-c', 'DELETE FROM patients WHERE id = 2001']);
    const card = page.getByRole('article', { name: /Review r_/ });
    await card.waitFor({ timeout: 20_000 });
    await card.getByText('DELETE FROM patients WHERE id = 2001').waitFor();
    await card.getByText('olivia.owner@example.com').waitFor();
    await shot('02-reviews-pending');
    await card.getByLabel('Reason').fill('ticket OPS-42');
    await card.getByRole('button', { name: 'Approve' }).click();
    const r = await psql;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /DELETE 1/);
    await page.getByRole('cell', { name: 'approved' }).first().waitFor();
    await shot('03-reviews-approved');
  });

  it('says how a denied and a cancelled hold ended, as the CLI does', async () => {
    const denied = stack.psql(['-c', 'DELETE FROM patients WHERE id = 2002']);
    const card = page.getByRole('article', { name: /Review r_/ }).filter({ hasText: 'id = 2002' });
    await card.getByLabel('Reason').fill('not this patient');
    await card.getByRole('button', { name: 'Deny' }).click();
    assert.notEqual((await denied).code, 0);
    // A client that goes away while its statement is held: the review is cancelled.
    const sql = 'DELETE FROM patients WHERE id = 2003';
    const gone = spawn('psql', ['-X', '-d', stack.conninfo(), '-c', sql], { stdio: 'ignore' });
    await page
      .getByRole('article', { name: /Review r_/ })
      .filter({ hasText: 'id = 2003' })
      .waitFor();
    gone.kill('SIGKILL');
    const deniedAt = await heldCommand('id = 2002', 'denied');
    const cancelledAt = await heldCommand('id = 2003', 'cancelled');
    await page.goto(`${base}/sessions/${deniedAt.sessionId}`);
    const statements = page.getByRole('list', { name: 'Statements' });
    await statements.getByText('rejected by dana@example.com', { exact: true }).waitFor();
    await page.goto(`${base}/sessions/${cancelledAt.sessionId}`);
    await statements.getByText('cancelled: the client went away', { exact: true }).waitFor();
    assert.doesNotMatch((await statements.textContent()) ?? '', /rejected/);
    await shot('13-replay-cancelled-hold');
    await page.goto(`${base}/reviews`);
    await page.getByRole('heading', { name: /Reviews/ }).waitFor();
  });

  it('lists sessions and opens a replay with the statement and its outcome', async () => {
    await page.getByRole('link', { name: 'Sessions' }).click();
    await page.getByRole('heading', { name: 'Sessions' }).waitFor();
    await shot('04-sessions');
    const rows = page.getByRole('link', { name: /^Open s/ });
    const n = await rows.count();
    let found = false;
    for (let i = 0; i < n && !found; i++) {
      await page
        .getByRole('link', { name: /^Open s/ })
        .nth(i)
        .click();
      await page.getByRole('heading', { level: 1, name: /^Session s_/ }).waitFor();
      found = (await page.getByText('DELETE FROM patients WHERE id = 2001').count()) > 0;
      if (!found) await page.goBack();
    }
    assert.ok(found, 'a session replay shows the approved DELETE');
    await shot('05-replay');
    await page.getByText(/approved by dana@example.com/).waitFor();
    await page
      .getByText(/ok · DELETE 1/)
      .first()
      .waitFor();
  });

  it('plays an SSH session’s terminal recording in the page, from the keyboard', async () => {
    const blocked: string[] = [];
    const onConsole = (m: ConsoleMessage) => {
      if (/Content Security Policy|WebAssembly/i.test(m.text())) blocked.push(m.text());
    };
    page.on('console', onConsole);
    const script = `printf 'AIRLOCK-%s-REPLAY\\n' $((6*7))\nexit\n`;
    const r = await ssh(sshClient, 'box', ['-tt'], { secret: stack.token, input: script });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /AIRLOCK-42-REPLAY/);
    const rec = await ledgerEvent((e) => e.type === 'session.recorded');
    await page.goto(`${base}/sessions/${rec.sessionId}`);
    const player = page.getByRole('region', { name: /^Terminal recording: interactive shell/ });
    await player.waitFor();
    await page.getByText(/SHA-256 matches the ledger/).waitFor();
    await page.getByRole('list', { name: 'Commands' }).getByText('terminal recorded').waitFor();
    const shown = player.locator('.ap-term-text', { hasText: 'AIRLOCK-42-REPLAY' });
    assert.equal(await shown.count(), 0, 'nothing played yet');
    await player.getByLabel('Speed').selectOption('2');
    await player.getByRole('button', { name: 'Play' }).focus();
    await page.keyboard.press('Enter');
    await shown.waitFor();
    await player.getByRole('button', { name: 'Play' }).waitFor(); // Pause turns back at the end
    page.off('console', onConsole);
    assert.deepEqual(blocked, [], 'the player runs under the console CSP');
    await shot('10-ssh-replay');
  });

  it('refuses an altered SSH recording (API and page), and says when there is none', async () => {
    const rec = await ledgerEvent((e) => e.type === 'session.recorded');
    const url = `${base}/api/audit/sessions/${rec.sessionId}/recording`;
    const good = await ctx.request.get(url);
    assert.equal(good.status(), 200);
    assert.equal(good.headers()['content-type'], 'application/x-asciicast');
    const file = join(stack.dataDir, 'recordings', String(rec.data.file));
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace('AIRLOCK-42-REPLAY', 'AIRLOCK-43-REPLAY'),
    );
    const altered = await ctx.request.get(url);
    assert.equal(altered.status(), 409);
    const text = await altered.text();
    assert.equal(JSON.parse(text).error.code, 'GW_RECORDING_ALTERED');
    assert.doesNotMatch(text, /AIRLOCK-43/);
    await page.reload();
    await page
      .getByRole('alert')
      .filter({ hasText: /Recording altered/ })
      .waitFor();
    assert.equal(await page.locator('.ap-term-text').count(), 0, 'no player for it');
    await shot('11-ssh-replay-altered');

    const r = await ssh(sshClient, 'box', ['echo no-terminal'], { secret: stack.token });
    assert.equal(r.code, 0, r.stderr);
    const exec = await ledgerEvent(
      (e) =>
        e.type === 'command.requested' &&
        e.data.decision === 'allow' &&
        /no-terminal/.test(JSON.stringify(e.data.command)),
    );
    const none = await ctx.request.get(`${base}/api/audit/sessions/${exec.sessionId}/recording`);
    assert.equal(none.status(), 404);
    assert.equal((await none.json()).error.code, 'GW_RECORDING_UNKNOWN');
    await page.goto(`${base}/sessions/${exec.sessionId}`);
    await page.getByText(/^No terminal recording/).waitFor();
  });

  it('renders an LLM call of the session as a conversation', async () => {
    llm.reply = { chunks: ['Vitals are ', 'stable; CONSOLE-LLM-ANSWER.'] };
    const res = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'gpt-4o-mini',
        messages: [
          { role: 'system', content: 'You summarise charts tersely.' },
          { role: 'user', content: 'Summarise CONSOLE-LLM-PROMPT for me.' },
        ],
      }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    const commandId = res.headers.get('x-airlock-event-id') ?? '';
    assert.match(commandId, /^c_/);
    const requested = await ledgerEvent(
      (e) => e.type === 'llm.requested' && e.commandId === commandId,
    );
    await ledgerEvent((e) => e.type === 'llm.responded' && e.commandId === commandId);
    await page.goto(`${base}/sessions/${requested.sessionId}`);
    const prompt = page.getByRole('list', { name: 'Prompt' });
    await prompt.getByText('You summarise charts tersely.').waitFor();
    await prompt.getByText('Summarise CONSOLE-LLM-PROMPT for me.').waitFor();
    const answer = page.getByRole('list', { name: 'Answer' });
    await answer.getByText('Vitals are stable; CONSOLE-LLM-ANSWER.').waitFor();
    await page.getByText(/tokens in \d+, out \d+/).waitFor();
    assert.equal((await page.getByText('Requests', { exact: true }).count()) > 0, true);
    await shot('12-llm-replay');
  });

  it('runs an audit query and shows the ledger verified with its latest checkpoint', async () => {
    await page.getByRole('link', { name: 'Audit' }).click();
    await page.getByText(/^Verified: \d+ events/).waitFor({ timeout: 30_000 });
    await page.getByLabel('Table').fill('patients');
    await page.getByRole('button', { name: 'Run query' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: /statements?$/ })
      .waitFor();
    const table = page.getByRole('table', { name: 'Audit results' });
    await table.getByText('DELETE FROM patients WHERE id = 2001').waitFor();
    const row = (id: number) =>
      table.getByRole('row').filter({ hasText: `DELETE FROM patients WHERE id = ${id}` });
    await row(2001).getByText('approved by dana@example.com').waitFor();
    await row(2002).getByText('rejected by dana@example.com').waitFor();
    await row(2003).getByText('cancelled: the client went away').waitFor();
    await shot('06-audit');
    const exported = await ctx.request.get(`${base}/api/audit/export?format=jsonl`);
    assert.equal(exported.status(), 200);
    assert.match((await exported.text()).split('\n')[0] ?? '', /airlock_export/);
  });

  it('shows connections and policy rules with hit counts, and tokens', async () => {
    await page.getByRole('link', { name: 'Connections & policies' }).click();
    const rules = page.getByRole('table', { name: 'Policy rules' });
    const row = rules.getByRole('row').filter({ hasText: 'patient-deletes-need-a-dba' });
    await row.waitFor();
    assert.match(await row.innerText(), /\b1\b/);
    await page.getByRole('cell', { name: 'clinic', exact: true }).waitFor();
    assert.doesNotMatch(await page.content(), /pw-[a-z0-9]{6,}/, 'no upstream password');
    await shot('07-config');
    await page.getByRole('link', { name: 'Tokens' }).click();
    await page.getByRole('heading', { name: 'Tokens' }).waitFor();
    await shot('08-tokens');
  });

  it('keeps a user without audit roles out of audit APIs (server side)', async () => {
    const other = await browser.newContext({ ignoreHTTPSErrors: true });
    try {
      const p = await other.newPage();
      await p.goto(`${base}/auth/login`);
      await p.locator('input[name=login]').fill('carl');
      await p.locator('input[name=password]').fill('any');
      await p.locator('button[type=submit]').click();
      await p.locator('button[type=submit]').click();
      await p.getByRole('heading', { name: /Reviews/ }).waitFor();
      assert.equal(await p.getByRole('link', { name: 'Audit' }).count(), 0);
      const res = await other.request.get(`${base}/api/audit/events`);
      assert.equal(res.status(), 403);
      await p.screenshot({ path: join(ARTIFACTS, '09-user-view.png'), fullPage: true });
    } finally {
      await other.close();
    }
  });
});
