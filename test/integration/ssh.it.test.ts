/**
 * The SSH gateway end to end, with real OpenSSH on both sides: `ssh`, `scp` and `sftp` clients
 * against Airlock, and an `sshd` started by the harness on loopback behind it. Covers exec with
 * exit status, an expect-style PTY shell (recorded, masked, replayed), policy denials, a command
 * held for review and approved, 20 MB transfers over scp (SFTP and legacy) and sftp, host keys
 * (mismatch refused, pin on first use), bad credentials, registered public keys, port forwarding
 * by policy, and malformed clients that must not hurt the gateway.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AuditEvent } from '../../src/audit/types.ts';
import { parseConfig } from '../../src/config/loader.ts';
import type { Identity } from '../../src/identity/types.ts';
import { type Gateway, startGateway } from '../../src/server/gateway.ts';
import { createLogger, silentLogger } from '../../src/telemetry/logger.ts';
import { airlockCli } from '../helpers/gateway-process.ts';
import {
  askpassEnv,
  type ClientSetup,
  clientOptions,
  clientSetup,
  freePort,
  type Sshd,
  ssh,
  sshConnectionYaml,
  startSshd,
} from '../helpers/sshd.ts';
import { run } from '../helpers/stack.ts';

const APPROVER: Identity = {
  kind: 'oidc',
  name: 'sam@example.com',
  owner: 'sam@example.com',
  groups: ['sre'],
  roles: ['approver', 'user'],
};

let sshd: Sshd;
let gw: Gateway;
let token: string;
let tokenId: string;
let c: ClientSetup;
let work: string;
let configFile: string;

function policy(sshdPort: number): string {
  return `
version: 1
defaults:
  action: allow
  unparsable_exec: deny
  review_timeout: 30s
  approvers: [{ groups: [sre], min: 1 }]
rules:
  - name: no-rm-rf
    match: { commands: ["rm -rf*"] }
    action: deny
    message: recursive forced deletes are not allowed
  - name: touch-needs-review
    match: { commands: [touch] }
    action: review
    message: creating files here needs an SRE
  - name: gated-shells
    match: { connections: [gated], session: shell }
    action: review
  - name: tunnel-to-sshd
    match: { forwards: ["127.0.0.1:${sshdPort}"] }
    action: allow
`;
}

function yaml(dataDir: string, policyFile: string): string {
  const conn = (name: string, hostKey: string) =>
    `\n${sshConnectionYaml(sshd, name, hostKey).trimEnd()}`;
  return `
data_dir: ${dataDir}
listen:
  ssh: 127.0.0.1:0
audit:
  sync: normal
policy:
  file: ${policyFile}
ssh:
  auth_timeout_ms: 3000
connections:${conn('box', sshd.hostKeyFingerprint)}${conn('gated', sshd.hostKeyFingerprint)}${conn('pinned', 'pin')}${conn('wrong-key', `SHA256:${'A'.repeat(43)}`)}
`;
}

before(async () => {
  sshd = await startSshd();
  work = mkdtempSync(join(tmpdir(), 'airlock-ssh-it-'));
  const dataDir = join(work, 'data');
  const policyFile = join(work, 'policy.yaml');
  writeFileSync(policyFile, policy(sshd.port));
  configFile = join(work, 'airlock.yaml');
  writeFileSync(configFile, yaml(dataDir, policyFile));
  const cfg = parseConfig(readFileSync(configFile, 'utf8'), configFile);
  const logger = process.env.GW_DEBUG ? createLogger({ level: 'debug' }) : silentLogger;
  gw = await startGateway(cfg, { logger });
  const created = gw.tokens.create({
    owner: 'olivia@example.com',
    name: 'ci-agent',
    groups: ['eng'],
    purpose: 'ssh integration tests',
    ttlMs: 3_600_000,
  });
  token = created.token;
  tokenId = created.record.id;
  c = clientSetup(gw.addresses.ssh?.port ?? 0, gw.sshHostKey?.publicLine ?? '');
});

after(async () => {
  await gw?.close();
  await sshd?.close();
  rmSync(work, { recursive: true, force: true });
  if (c) rmSync(c.dir, { recursive: true, force: true });
});

async function events(filter: (e: AuditEvent) => boolean, wait = 3000): Promise<AuditEvent[]> {
  const deadline = Date.now() + wait;
  for (;;) {
    const all = (await gw.ledger.query({})).filter(filter);
    if (all.length > 0 || Date.now() > deadline) return all;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function commandEvents(text: string): Promise<AuditEvent[]> {
  const [req] = await events(
    (e) => e.type === 'command.requested' && (e.data.command as { text?: string }).text === text,
  );
  assert.ok(req, `command.requested for ${text}`);
  await events((e) => e.type === 'command.completed' && e.commandId === req.commandId);
  return (await gw.ledger.query({})).filter((e) => e.commandId === req.commandId);
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('exec', () => {
  it('runs a command and passes its output, stderr and exit status', async () => {
    const text = 'echo out; echo err >&2; exit 7';
    const r = await ssh(c, 'box', [text], { secret: token });
    assert.equal(r.code, 7, r.stderr);
    assert.equal(r.stdout, 'out\n');
    assert.match(r.stderr, /err/);
    const evs = await commandEvents(text);
    assert.deepEqual(
      evs.map((e) => e.type),
      ['command.requested', 'command.completed'],
    );
    assert.equal(evs[0]?.data.decision, 'allow');
    assert.deepEqual(
      ((evs[0]?.data.invocations ?? []) as { program: string }[]).map((i) => i.program),
      ['echo', 'echo', 'exit'],
    );
    assert.equal(evs[1]?.data.exitStatus, 7);
    assert.equal(evs[1]?.actor?.owner, 'olivia@example.com');
  });

  it('passes standard input through and EOF to the command', async () => {
    const r = await ssh(c, 'box', ['wc -c'], { secret: token, input: 'x'.repeat(100_000) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), '100000');
  });
});

describe('policy on command lines', () => {
  it('denies rm -rf however it is written, before anything runs (exit 126)', async () => {
    const victim = join(work, 'keep-me');
    mkdirSync(victim);
    for (const cmd of [
      `rm -rf ${victim}`,
      `sudo -n rm -fr ${victim}`,
      `sh -c 'cd / && rm -r -f ${victim}'`,
    ]) {
      const r = await ssh(c, 'box', [cmd], { secret: token });
      assert.equal(r.code, 126, cmd);
      assert.match(
        r.stderr,
        /airlock: recursive forced deletes are not allowed \(GW_POLICY_DENIED\)/,
      );
    }
    assert.ok(existsSync(victim), 'nothing ran');
    const [denied] = await events(
      (e) => e.type === 'command.requested' && e.data.decision === 'deny',
    );
    assert.equal(denied?.data.rule, 'no-rm-rf');
  });

  it('refuses a command line it cannot analyse (unparsable_exec: deny)', async () => {
    const r = await ssh(c, 'box', ['$CMD /tmp'], { secret: token });
    assert.equal(r.code, 126);
    assert.match(r.stderr, /cannot tell which programs/);
  });

  it('holds a command for review; approved through the ReviewService, it then runs', async () => {
    const file = join(work, 'approved-file');
    const text = `touch ${file}`;
    const running = ssh(c, 'box', [text], { secret: token });
    const review = await pendingReview(text);
    assert.equal(existsSync(file), false, 'held, not run');
    assert.equal(review.rule, 'touch-needs-review');
    await gw.reviews.decide(review.id, APPROVER, 'approve', 'ticket 7');
    const r = await running;
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`creating files here needs an SRE: waiting for review ${review.id}`),
    );
    assert.ok(existsSync(file));
    const evs = await commandEvents(text);
    assert.deepEqual(
      evs.map((e) => e.type),
      ['command.requested', 'review.voted', 'command.approved', 'command.completed'],
    );
    assert.equal(evs[0]?.data.decision, 'hold');
  });

  it('a denied review refuses the command with the approver’s reason', async () => {
    const file = join(work, 'denied-file');
    const running = ssh(c, 'box', [`touch ${file}`], { secret: token });
    const review = await pendingReview(`touch ${file}`);
    await gw.reviews.decide(review.id, APPROVER, 'deny', 'not on a Friday');
    const r = await running;
    assert.equal(r.code, 126);
    assert.match(r.stderr, /denied by sam@example.com .*not on a Friday \(GW_REVIEW_DENIED\)/);
    assert.equal(existsSync(file), false);
  });
});

async function pendingReview(text: string) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const r = gw.reviews.list({ status: 'pending' }).find((x) => x.statement === text);
    if (r) return r;
    if (Date.now() > deadline) throw new Error(`no pending review for ${text}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

describe('interactive shells', () => {
  it('a PTY shell driven expect-style is recorded, masked, and replays with its SHA-256 checked', async () => {
    const fakeGithub = `ghp_${'A1b2C3d4E5'.repeat(3)}abcdef`;
    const script = `printf 'A%sB\\n' $((6*7))\necho ${fakeGithub}\necho token ${token}\nexit\n`;
    const r = await ssh(c, 'box', ['-tt'], { secret: token, input: script });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /A42B/);
    assert.match(r.stdout, new RegExp(fakeGithub), 'the user sees their own terminal unmasked');
    const [rec] = await events(
      (e) => e.type === 'session.recorded' && e.data.input === false,
      5000,
    );
    assert.ok(rec, 'session.recorded');
    const file = join(work, 'data', 'recordings', String(rec.data.file));
    const cast = readFileSync(file, 'utf8');
    assert.equal(sha(readFileSync(file)), rec.data.sha256);
    assert.match(cast.split('\n')[0] ?? '', /"version":2/);
    assert.ok(!cast.includes(fakeGithub), 'the GitHub token is masked in the recording');
    assert.ok(!cast.includes(token), 'the Airlock token is masked in the recording');
    assert.ok(((rec.data.masked as Record<string, number>).github_token ?? 0) >= 1);
    const all = JSON.stringify(await gw.ledger.query({}));
    assert.ok(!all.includes(token) && !all.includes(fakeGithub), 'no secret in the ledger');

    const raw = await airlockCli([
      'audit',
      'replay',
      String(rec.sessionId),
      '--raw',
      '--config',
      configFile,
    ]);
    assert.equal(raw.code, 0, raw.stderr);
    assert.match(raw.stdout, /A42B/);
    assert.match(raw.stdout, /\*{20,}/);
    assert.match(raw.stderr, /sha256 verified/);
    const timed = await airlockCli([
      'audit',
      'replay',
      String(rec.sessionId),
      '--speed',
      '50',
      '--config',
      configFile,
    ]);
    assert.equal(timed.code, 0, timed.stderr);
    assert.match(timed.stdout, /A42B/);

    writeFileSync(file, cast.replace('A42B', 'A43B'));
    const altered = await airlockCli([
      'audit',
      'replay',
      String(rec.sessionId),
      '--raw',
      '--config',
      configFile,
    ]);
    assert.equal(altered.code, 1);
    assert.match(altered.stderr, /does not match the ledger/);
  });

  it('a shell on a gated connection waits for a review; denied, it never opens', async () => {
    const running = ssh(c, 'gated', ['-tt'], {
      secret: token,
      input: 'echo should-not-run\nexit\n',
    });
    const review = await pendingReview('interactive shell (xterm 0x0)');
    await gw.reviews.decide(review.id, APPROVER, 'deny', 'use exec');
    const r = await running;
    assert.equal(r.code, 126);
    assert.match(r.stdout + r.stderr, /use exec/);
    assert.ok(!r.stdout.includes('should-not-run\r\n'));
  });
});

describe('file transfers (20 MB)', () => {
  const size = 20 * 1024 * 1024;
  let src: string;
  let digest: string;

  before(() => {
    src = join(work, 'payload.bin');
    const data = randomBytes(size);
    writeFileSync(src, data);
    digest = sha(data);
  });

  const scpArgs = (extra: string[]) => ['-P', String(c.port), ...clientOptions(c), ...extra];

  async function transferred(path: string, direction: string, via: string): Promise<AuditEvent> {
    const [e] = await events(
      (x) =>
        x.type === 'file.transferred' &&
        x.data.direction === direction &&
        x.data.via === via &&
        String(x.data.path).endsWith(path),
      5000,
    );
    assert.ok(e, `file.transferred ${direction} ${via} ${path}`);
    return e;
  }

  it('scp (SFTP mode) uploads and downloads, each recorded with size and SHA-256', async () => {
    const up = join(work, 'scp-up.bin');
    const r = await run('scp', scpArgs([src, `box@127.0.0.1:${up}`]), {
      env: askpassEnv(c, token),
      timeoutMs: 120_000,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha(readFileSync(up)), digest);
    const e = await transferred(up, 'upload', 'sftp');
    assert.equal(e.data.bytes, size);
    assert.equal(e.data.sha256, digest);
    const down = join(work, 'scp-down.bin');
    const d = await run('scp', scpArgs([`box@127.0.0.1:${up}`, down]), {
      env: askpassEnv(c, token),
      timeoutMs: 120_000,
    });
    assert.equal(d.code, 0, d.stderr);
    assert.equal(sha(readFileSync(down)), digest);
    const de = await transferred(up, 'download', 'sftp');
    assert.equal(de.data.sha256, digest);
  });

  it('legacy scp (-O) is audited from its own protocol', async () => {
    const dir = join(work, 'legacy');
    mkdirSync(dir);
    const r = await run('scp', scpArgs(['-O', src, `box@127.0.0.1:${dir}/`]), {
      env: askpassEnv(c, token),
      timeoutMs: 120_000,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha(readFileSync(join(dir, 'payload.bin'))), digest);
    const e = await transferred(`${dir}/`, 'upload', 'scp');
    assert.equal(e.data.name, 'payload.bin');
    assert.equal(e.data.bytes, size);
    assert.equal(e.data.sha256, digest);
  });

  it('sftp in batch mode: put, get, rename and remove are in the ledger', async () => {
    const remote = join(work, 'sftp-up.bin');
    const back = join(work, 'sftp-back.bin');
    const batch = join(work, 'batch.txt');
    writeFileSync(
      batch,
      `put ${src} ${remote}\nget ${remote} ${back}\nrename ${remote} ${remote}.2\nrm ${remote}.2\n`,
    );
    // -b implies BatchMode, which turns password prompts off; the token comes from SSH_ASKPASS.
    const args = ['-P', String(c.port), '-o', 'BatchMode=no', ...clientOptions(c), '-b', batch];
    const r = await run('sftp', [...args, 'box@127.0.0.1'], {
      env: askpassEnv(c, token),
      timeoutMs: 120_000,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha(readFileSync(back)), digest);
    assert.equal((await transferred(remote, 'upload', 'sftp')).data.bytes, size);
    const changes = await events(
      (e) => e.type === 'file.changed' && String(e.data.path).startsWith(remote),
    );
    await events((e) => e.type === 'file.changed' && e.data.op === 'remove');
    const ops = (await gw.ledger.query({ types: ['file.changed'] })).map(
      (e) => `${e.data.op} ${e.data.ok}`,
    );
    assert.ok(changes.length > 0);
    assert.ok(ops.includes('rename true') && ops.includes('remove true'), ops.join());
  });
});

describe('host keys', () => {
  it('refuses an upstream whose host key is not the configured one', async () => {
    const r = await ssh(c, 'wrong-key', ['true'], { secret: token });
    assert.equal(r.code, 255);
    assert.match(r.stderr, /GW_UPSTREAM_HOST_KEY_MISMATCH/);
    const [e] = await events((x) => x.type === 'host_key.rejected' && x.connection === 'wrong-key');
    assert.equal(e?.data.fingerprint, sshd.hostKeyFingerprint);
  });

  it('pins the first key seen, then refuses a different one', async () => {
    const ok = await ssh(c, 'pinned', ['true'], { secret: token });
    assert.equal(ok.code, 0, ok.stderr);
    const [pinned] = await events((x) => x.type === 'host_key.pinned');
    assert.equal(pinned?.data.fingerprint, sshd.hostKeyFingerprint);
    const again = await ssh(c, 'pinned', ['true'], { secret: token });
    assert.equal(again.code, 0);
    const pins = join(work, 'data', 'ssh', 'pinned-host-keys.json');
    writeFileSync(
      pins,
      readFileSync(pins, 'utf8').replace(sshd.hostKeyFingerprint, `SHA256:${'B'.repeat(43)}`),
    );
    const refused = await ssh(c, 'pinned', ['true'], { secret: token });
    assert.equal(refused.code, 255);
    assert.match(refused.stderr, /not the expected one/);
  });
});

describe('authentication', () => {
  it('refuses a bad token, records why, and never records the secret', async () => {
    const bad = `alk_abcdefghijkl_${'Z'.repeat(43)}`;
    const r = await ssh(c, 'box', ['id'], { secret: bad });
    assert.equal(r.code, 255);
    assert.match(r.stderr, /Permission denied/);
    const failed = await events((e) => e.type === 'auth.failed' && e.data.connection === 'box');
    assert.ok(failed.length > 0);
    assert.ok(!JSON.stringify(await gw.ledger.query({})).includes(bad));
  });

  it('names an unknown connection after login', async () => {
    const r = await ssh(c, 'nosuch', ['true'], { secret: token });
    assert.equal(r.code, 255);
    assert.match(r.stderr, /connection "nosuch" does not exist \(GW_CONNECTION_UNKNOWN\)/);
  });

  it('accepts a registered public key until it is removed', async () => {
    const key = join(work, 'id_agent');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    const unregistered = await ssh(c, 'box', ['true'], { key });
    assert.equal(unregistered.code, 255);
    const added = await airlockCli([
      'ssh-key',
      'add',
      `${key}.pub`,
      '--token',
      tokenId,
      '--config',
      configFile,
    ]);
    assert.equal(added.code, 0, added.stderr);
    const fp = added.stdout.trim();
    const r = await ssh(c, 'box', ['echo via-key'], { key });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'via-key\n');
    const [ok] = await events((e) => e.type === 'auth.succeeded' && e.data.keyFingerprint === fp);
    assert.equal(ok?.actor?.tokenId, tokenId);
    const removed = await airlockCli(['ssh-key', 'remove', fp, '--config', configFile]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal((await ssh(c, 'box', ['true'], { key })).code, 255);
  });
});

describe('port forwarding', () => {
  async function throughTunnel(target: number): Promise<string> {
    const local = await freePort();
    const child = spawn(
      'ssh',
      [
        '-p',
        String(c.port),
        ...clientOptions(c),
        '-N',
        '-L',
        `${local}:127.0.0.1:${target}`,
        'box@127.0.0.1',
      ],
      { env: { ...process.env, ...askpassEnv(c, token) }, stdio: 'ignore' },
    );
    try {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const got = await new Promise<string | undefined>((resolve) => {
          const s = connect(local, '127.0.0.1');
          let data = '';
          s.on('data', (d) => {
            data += d;
          });
          s.on('error', () => resolve(undefined));
          s.on('close', () => resolve(data));
          setTimeout(() => s.destroy(), 1500);
        });
        if (got !== undefined) return got;
        if (Date.now() > deadline) return '';
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      child.kill();
    }
  }

  it('forwards to a target a rule allows', async () => {
    assert.match(await throughTunnel(sshd.port), /^SSH-2\.0-OpenSSH/);
  });

  it('refuses any other target', async () => {
    assert.equal(await throughTunnel(sshd.port + 1 === c.port ? 1 : sshd.port + 1), '');
    const [denied] = await events(
      (e) =>
        e.type === 'command.requested' &&
        (e.data.command as { kind: string }).kind === 'forward' &&
        e.data.decision === 'deny',
    );
    assert.match(
      String((denied?.data.command as { text?: string } | undefined)?.text),
      /forward to 127\.0\.0\.1:/,
    );
  });
});

describe('malformed clients', () => {
  function send(bytes: Buffer | string, waitMs = 300): Promise<void> {
    return new Promise((resolve) => {
      const s = connect(c.port, '127.0.0.1', () => {
        s.write(bytes);
        setTimeout(() => s.destroy(), waitMs);
      });
      s.on('error', () => {});
      s.on('close', () => resolve());
    });
  }

  it('garbage, bad identification, oversized packets and dropped handshakes end only their socket', async () => {
    const huge = Buffer.alloc(64);
    huge.writeUInt32BE(0x7fffffff, 0);
    await Promise.all([
      send(randomBytes(4096)),
      send('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
      send(Buffer.concat([Buffer.from('SSH-2.0-fuzz\r\n'), randomBytes(2048)])),
      send(Buffer.concat([Buffer.from('SSH-2.0-fuzz\r\n'), huge])),
      send(`SSH-2.0-${'x'.repeat(300_000)}`),
      send(''),
      ...Array.from({ length: 30 }, () => send(randomBytes(64), 10)),
    ]);
    const r = await ssh(c, 'box', ['echo still-alive'], { secret: token });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'still-alive\n');
  });

  it('a client that never authenticates is dropped after ssh.auth_timeout_ms', async () => {
    const t0 = Date.now();
    await new Promise<void>((resolve) => {
      const s = connect(c.port, '127.0.0.1', () => s.write('SSH-2.0-slow\r\n'));
      s.on('data', () => {});
      s.on('error', () => {});
      s.on('close', () => resolve());
    });
    const took = Date.now() - t0;
    assert.ok(took >= 2500 && took < 10_000, `dropped after ${took} ms`);
  });
});
