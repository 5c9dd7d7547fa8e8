import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Ledger } from '../audit/ledger.ts';
import { openLedger } from '../audit/open.ts';
import { auditConfig } from '../audit/testing/conformance.ts';
import type { Identity } from '../identity/types.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { type ApiDeps, createApiHandler } from './server.ts';

const CAST = `${JSON.stringify({ version: 2, width: 80, height: 24, timestamp: 1 })}\n[0.1,"o","hello\\r\\n"]\n`;
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const who = (name: string, roles: Identity['roles']): Identity => ({
  kind: 'oidc',
  name,
  owner: name,
  groups: [],
  roles,
});
const IDENTITIES: Record<string, Identity> = {
  auditor: who('audrey@example.com', ['auditor']),
  user: who('ulla@example.com', ['user']),
};

const dataDir = mkdtempSync(join(tmpdir(), 'airlock-recording-api-'));
let ledger: Ledger;
let server: Server;
let base: string;

/** A recording file and its `session.recorded` event (`file` as the ledger names it). */
async function record(session: string, channel: number, text: string, file?: string) {
  const name = `${session}/${channel}-c.cast`;
  mkdirSync(join(dataDir, 'recordings', session), { recursive: true });
  writeFileSync(join(dataDir, 'recordings', name), text);
  await ledger.append({
    type: 'session.recorded',
    sessionId: session,
    commandId: `c${channel}`,
    data: { channel, file: file ?? name, sha256: sha(text), bytes: Buffer.byteLength(text) },
  });
  return join(dataDir, 'recordings', name);
}

async function get(path: string, as = 'auditor') {
  const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${as}` } });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text };
}

function errorOf(text: string): { code: string; message: string } {
  return (JSON.parse(text) as { error: { code: string; message: string } }).error;
}

before(async () => {
  ledger = await openLedger({ audit: auditConfig({ kind: 'sqlite' }), dataDir });
  const deps = {
    authenticator: {
      verifySecret: async (s: string) => {
        const identity = IDENTITIES[s];
        return identity ? { ok: true, identity } : { ok: false, reason: 'unknown token' };
      },
    },
    ledger: { append: async () => 0, appendLater: () => undefined },
    logger: silentLogger,
    audit: { reader: ledger.reader, config: { data_dir: dataDir } },
  } as unknown as ApiDeps;
  server = createServer(createApiHandler(deps));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

after(async () => {
  await new Promise((r) => server.close(r));
  await ledger.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('GET /api/audit/sessions/{id}/recording', () => {
  it('serves the recording, checked against the ledger, as application/x-asciicast', async () => {
    await record('s_ok', 0, CAST);
    await record('s_ok', 1, CAST.replace('hello', 'second'));
    const r = await get('/api/audit/sessions/s_ok/recording');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('content-type'), 'application/x-asciicast');
    assert.equal(r.headers.get('x-airlock-recording-sha256'), sha(CAST));
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(r.text, CAST);
    const second = await get('/v1/audit/sessions/s_ok/recording?channel=1');
    assert.match(second.text, /second/);
  });

  it('answers 404 GW_RECORDING_UNKNOWN for a session or channel without one', async () => {
    for (const path of ['s_none/recording', 's_ok/recording?channel=7']) {
      const r = await get(`/api/audit/sessions/${path}`);
      assert.equal(r.status, 404);
      assert.equal(errorOf(r.text).code, 'GW_RECORDING_UNKNOWN');
    }
    const bad = await get('/api/audit/sessions/s_ok/recording?channel=x');
    assert.equal(bad.status, 400);
  });

  it('refuses a recording changed, deleted or moved out of its folder (409), never its bytes', async () => {
    const file = await record('s_edit', 0, CAST);
    writeFileSync(file, CAST.replace('hello', 'forged'));
    const edited = await get('/api/audit/sessions/s_edit/recording');
    assert.equal(edited.status, 409);
    assert.equal(errorOf(edited.text).code, 'GW_RECORDING_ALTERED');
    assert.match(errorOf(edited.text).message, /altered.*does not match the ledger/);
    assert.doesNotMatch(edited.text, /forged/);
    rmSync(file);
    const deleted = await get('/api/audit/sessions/s_edit/recording');
    assert.equal(deleted.status, 409);
    assert.match(errorOf(deleted.text).message, /is missing/);
    await record('s_escape', 0, CAST, '../../../etc/passwd');
    const escaped = await get('/api/audit/sessions/s_escape/recording');
    assert.equal(escaped.status, 409);
    assert.match(errorOf(escaped.text).message, /leaves the folder/);
  });

  it('is for the roles that may open a session replay', async () => {
    const r = await get('/api/audit/sessions/s_ok/recording', 'user');
    assert.equal(r.status, 403);
    assert.equal(errorOf(r.text).code, 'GW_AUTH_FORBIDDEN');
  });
});
