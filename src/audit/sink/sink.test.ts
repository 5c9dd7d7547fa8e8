/**
 * Sink tests against real network receivers on 127.0.0.1: a TCP server that parses
 * octet-counted RFC 5424 frames, its TLS variant (self-signed certificate made with the openssl
 * CLI), and an HTTPS server. They stand in for a SIEM, which cannot run here. The event source
 * is an in-memory array of synthetic events, so these tests do not depend on the ledger.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createServer as createTlsServer } from 'node:tls';
import { Secret } from '../../config/secret.ts';
import { createLogger, type Logger } from '../../telemetry/logger.ts';
import type { AuditEvent, AuditEventType } from '../types.ts';
import { createSink, sinkConfigSchema } from './config.ts';
import { readCursorFile } from './cursor-file.ts';
import { asciiJson } from './event-json.ts';
import {
  backoffDelay,
  type EventSource,
  SinkError,
  SinkRunner,
  type SinkRunnerOptions,
  type SinkTransport,
} from './runner.ts';
import { escapeParamValue, formatSyslogMessage, SyslogTransport } from './syslog.ts';
import { encodeBatch, isLoopback, WebhookTransport } from './webhook.ts';

// --- Synthetic events and an in-memory source ---------------------------------------------------

const TYPES: readonly AuditEventType[] = [
  'session.started',
  'command.requested',
  'command.completed',
  'session.ended',
];
const BASE = Date.parse('2025-03-01T12:00:00.000Z');

function makeEvent(seq: number, over: Partial<AuditEvent> = {}): AuditEvent {
  const type = TYPES[(seq - 1) % TYPES.length] ?? 'session.started';
  return {
    seq,
    ts: new Date(BASE + seq).toISOString(),
    type,
    sessionId: `s_${Math.ceil(seq / 4)}`,
    connection: 'clinic',
    actor: { kind: 'token', identity: 'agent-7', owner: 'alice@example.com', tokenId: 'tok_1' },
    clientAddr: '127.0.0.1:50000',
    commandId: type.startsWith('command.') ? `c_${seq}` : null,
    data: type === 'command.requested' ? { decision: 'allow' } : {},
    body: '{}',
    leafHash: seq.toString(16).padStart(64, '0'),
    prevHash: (seq - 1).toString(16).padStart(64, '0'),
    hash: seq.toString(16).padStart(64, 'f'),
    ...over,
  };
}

/** The ledger side: appends never wait for a sink; a sink can only read. */
class MemorySource implements EventSource {
  readonly events: AuditEvent[] = [];
  reads = 0;

  append(n: number): void {
    for (let i = 0; i < n; i++) this.events.push(makeEvent(this.events.length + 1));
  }

  async readAfter(afterSeq: number, limit: number): Promise<readonly AuditEvent[]> {
    this.reads++;
    return this.events.slice(afterSeq, afterSeq + limit);
  }

  async headSeq(): Promise<number> {
    return this.events.length;
  }
}

/** A transport whose acknowledgements the test decides; records what it acknowledged. */
class ScriptedTransport implements SinkTransport {
  readonly name = 'scripted';
  readonly acked: number[] = [];
  readonly fail: (attempt: number) => boolean;
  attempts = 0;

  constructor(fail: (attempt: number) => boolean = () => false) {
    this.fail = fail;
  }

  async send(events: readonly AuditEvent[]): Promise<void> {
    this.attempts++;
    if (this.fail(this.attempts)) throw new SinkError('receiver unavailable', { retryable: true });
    for (const e of events) this.acked.push(e.seq);
  }

  async close(): Promise<void> {}
}

// --- Helpers ------------------------------------------------------------------------------------

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-sink-'));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: createLogger({ level: 'debug', write: (l) => lines.push(l) }), lines };
}

async function until(cond: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function runner(
  opts: Partial<SinkRunnerOptions> & Pick<SinkRunnerOptions, 'source' | 'transport'>,
) {
  return new SinkRunner({
    cursorFile: join(tempDir(), 'sinks', 'test.cursor'),
    logger: captureLogger().logger,
    pollMs: 20,
    retry: { initialMs: 10, maxMs: 50 },
    ...opts,
  });
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

// --- An RFC 5424 / RFC 6587 receiver ----------------------------------------------------------

interface Syslog5424 {
  pri: number;
  timestamp: string;
  hostname: string;
  app: string;
  procId: string;
  msgId: string;
  sd: Record<string, Record<string, string>>;
  msg: string;
}

/** Splits octet-counted frames (RFC 6587 §3.4.1): `MSG-LEN SP SYSLOG-MSG`. */
class FrameReader {
  #buf = Buffer.alloc(0);

  push(chunk: Buffer): string[] {
    this.#buf = Buffer.concat([this.#buf, chunk]);
    const out: string[] = [];
    for (;;) {
      const sp = this.#buf.indexOf(0x20);
      if (sp < 0) break;
      const len = Number(this.#buf.subarray(0, sp).toString('ascii'));
      assert.ok(Number.isInteger(len) && len > 0, 'MSG-LEN is a positive integer');
      if (this.#buf.length < sp + 1 + len) break;
      out.push(this.#buf.subarray(sp + 1, sp + 1 + len).toString('utf8'));
      this.#buf = this.#buf.subarray(sp + 1 + len);
    }
    return out;
  }
}

/** Parses an RFC 5424 message, unescaping PARAM-VALUEs (§6.3.3). */
function parse5424(text: string): Syslog5424 {
  const m = /^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) /.exec(text);
  assert.ok(m, `not an RFC 5424 header: ${text.slice(0, 80)}`);
  const sd: Syslog5424['sd'] = {};
  let i = m[0].length;
  if (text[i] === '-') i++;
  while (text[i] === '[') {
    const idEnd = text.slice(i).search(/[ \]]/) + i;
    const params: Record<string, string> = {};
    sd[text.slice(i + 1, idEnd)] = params;
    i = idEnd;
    while (text[i] === ' ') {
      const eq = text.indexOf('=', i);
      const key = text.slice(i + 1, eq);
      assert.equal(text[eq + 1], '"');
      let value = '';
      let j = eq + 2;
      while (text[j] !== '"') {
        const c = text[j] ?? assert.fail('unterminated PARAM-VALUE');
        const next = text[j + 1] ?? '';
        if (c === '\\' && '"\\]'.includes(next)) {
          value += next;
          j += 2;
        } else {
          assert.notEqual(c, ']', 'an unescaped ] inside PARAM-VALUE');
          value += c;
          j++;
        }
      }
      params[key] = value;
      i = j + 1;
    }
    assert.equal(text[i], ']');
    i++;
  }
  const [, pri, timestamp, hostname, app, procId, msgId] = m;
  return {
    pri: Number(pri),
    timestamp: timestamp ?? '',
    hostname: hostname ?? '',
    app: app ?? '',
    procId: procId ?? '',
    msgId: msgId ?? '',
    sd,
    msg: text[i] === ' ' ? text.slice(i + 1) : '',
  };
}

interface Receiver {
  readonly port: number;
  readonly messages: Syslog5424[];
  close(): Promise<void>;
}

function collect(socket: Socket, messages: Syslog5424[]): void {
  const reader = new FrameReader();
  socket.on('data', (chunk) => {
    for (const m of reader.push(chunk)) messages.push(parse5424(m));
  });
  socket.on('error', () => {});
}

async function listen(server: Server, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  assert.ok(addr && typeof addr === 'object');
  return addr.port;
}

async function stop(server: Server, sockets: Set<Socket>): Promise<void> {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

async function syslogReceiver(port = 0, tls?: { key: Buffer; cert: Buffer }): Promise<Receiver> {
  const messages: Syslog5424[] = [];
  const sockets = new Set<Socket>();
  const onSocket = (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    collect(s, messages);
  };
  const server = tls ? createTlsServer(tls, onSocket) : createNetServer(onSocket);
  const bound = await listen(server, port);
  return { port: bound, messages, close: () => stop(server, sockets) };
}

/** A port that nothing listens on (yet). */
async function freePort(): Promise<number> {
  const server = createNetServer();
  const port = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// --- Certificates -----------------------------------------------------------------------------

let certDir = '';
let tlsFiles: { key: Buffer; cert: Buffer; certFile: string };

before(() => {
  certDir = tempDir();
  const keyFile = join(certDir, 'key.pem');
  const certFile = join(certDir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: 'ignore', timeout: 10_000 },
  );
  tlsFiles = { key: readFileSync(keyFile), cert: readFileSync(certFile), certFile };
});

// --- Runner -----------------------------------------------------------------------------------

describe('SinkRunner', () => {
  test('delivers 2,000 events in order over syslog, in batches, once each', async () => {
    const receiver = await syslogReceiver();
    const source = new MemorySource();
    source.append(2000);
    const transport = new SyslogTransport({ name: 'siem', host: '127.0.0.1', port: receiver.port });
    const cursorFile = join(tempDir(), 'sinks', 'siem.cursor');
    const r = runner({ source, transport, cursorFile, batchSize: 128 });
    try {
      await r.start();
      await until(() => r.stats().cursor === 2000, 'all events');
      await until(() => receiver.messages.length >= 2000, 'all frames');
      assert.deepEqual(
        receiver.messages.map((m) => Number(m.sd['airlock@32473']?.seq)),
        range(1, 2000),
      );
      assert.deepEqual(
        receiver.messages.map((m) => (JSON.parse(m.msg) as { seq: number }).seq),
        range(1, 2000),
      );
      assert.equal(r.stats().delivered, 2000);
      assert.equal(r.stats().failures, 0);
      assert.equal(await readCursorFile(cursorFile), 2000);
      assert.equal(statSync(cursorFile).mode & 0o777, 0o600);
    } finally {
      await r.close();
      await receiver.close();
    }
  });

  test('a receiver down at start: retries, then everything once and in order; the ledger never waits', async () => {
    const port = await freePort();
    const source = new MemorySource();
    source.append(50);
    const transport = new SyslogTransport({ name: 'siem', host: '127.0.0.1', port });
    const r = runner({ source, transport, pollMs: 60_000, batchSize: 40 });
    let receiver: Receiver | undefined;
    try {
      await r.start();
      await until(() => r.stats().failures >= 3, 'failed attempts');
      const t0 = performance.now();
      source.append(450); // the data path appends while the sink is down
      assert.ok(performance.now() - t0 < 50, 'appending never waits for the sink');
      assert.equal(r.stats().delivered, 0);
      assert.match(r.stats().lastError ?? '', /ECONNREFUSED/);

      receiver = await syslogReceiver(port);
      await until(() => r.stats().cursor === 500, 'catch-up after the receiver came up');
      const rx = receiver;
      await until(() => rx.messages.length >= 500, 'frames');
      source.append(10);
      r.notify(); // pollMs is a minute: only notify() can bring these out promptly
      await until(() => rx.messages.length >= 510, 'notified events', 1000);
      assert.deepEqual(
        receiver.messages.map((m) => Number(m.sd['airlock@32473']?.seq)),
        range(1, 510),
      );
    } finally {
      await r.close();
      await receiver?.close();
    }
  });

  test('resumes from the persisted cursor: only the unacknowledged batch is sent again', async () => {
    const cursorFile = join(tempDir(), 'sinks', 'siem.cursor');
    const source = new MemorySource();
    source.append(100);
    const flaky = new ScriptedTransport((attempt) => attempt > 3);
    const first = runner({ source, transport: flaky, cursorFile, batchSize: 10 });
    await first.start();
    await until(() => first.stats().failures >= 2, 'the fourth batch to fail');
    await first.close();
    assert.deepEqual(flaky.acked, range(1, 30));
    assert.equal(await readCursorFile(cursorFile), 30);

    const healthy = new ScriptedTransport();
    const second = runner({ source, transport: healthy, cursorFile, batchSize: 10 });
    await second.start();
    await until(() => second.stats().cursor === 100, 'the rest');
    await second.close();
    assert.deepEqual(healthy.acked, range(31, 100));
  });

  test('bounds the backlog: skips to head - maxBacklogEvents and says how many', async () => {
    const { logger, lines } = captureLogger();
    const source = new MemorySource();
    source.append(100);
    const transport = new ScriptedTransport();
    const r = runner({ source, transport, logger, maxBacklogEvents: 30, batchSize: 7 });
    await r.start();
    await until(() => r.stats().cursor === 100, 'delivery');
    await r.close();
    assert.deepEqual(transport.acked, range(71, 100));
    assert.equal(r.stats().skipped, 70);
    const warning = lines.map((l) => JSON.parse(l)).find((l) => l.skipped !== undefined);
    assert.equal(warning?.level, 'warn');
    assert.equal(warning?.skipped, 70);
  });

  test('bounds the backlog while retrying a down receiver', async () => {
    const source = new MemorySource();
    source.append(10);
    let down = true;
    const transport = new ScriptedTransport(() => down);
    const r = runner({ source, transport, maxBacklogEvents: 50, batchSize: 10 });
    await r.start();
    await until(() => r.stats().failures >= 2, 'failures');
    source.append(100);
    await until(() => r.stats().skipped > 0, 'skip');
    down = false;
    await until(() => r.stats().cursor === 110, 'delivery');
    await r.close();
    assert.equal(r.stats().skipped, 60);
    assert.deepEqual(transport.acked, range(61, 110));
  });

  test('close() during a long backoff returns within ~100 ms', async () => {
    const source = new MemorySource();
    source.append(5);
    const transport = new ScriptedTransport(() => true);
    const r = runner({ source, transport, retry: { initialMs: 30_000, maxMs: 60_000 } });
    await r.start();
    await until(() => r.stats().failures === 1, 'first failure');
    const t0 = performance.now();
    await r.close();
    assert.ok(performance.now() - t0 < 100, `close took ${performance.now() - t0} ms`);
    assert.equal(transport.attempts, 1);
  });

  test('refuses a corrupt cursor file rather than re-sending the ledger', async () => {
    const cursorFile = join(tempDir(), 'bad.cursor');
    await import('node:fs/promises').then((fs) => fs.writeFile(cursorFile, 'garbage'));
    const r = runner({
      source: new MemorySource(),
      transport: new ScriptedTransport(),
      cursorFile,
    });
    await assert.rejects(r.start(), /cursor file is not valid/);
    await r.close();
  });

  test('backoff grows exponentially with jitter, capped', () => {
    assert.equal(
      backoffDelay(1, 200, 30_000, () => 0),
      100,
    );
    assert.equal(
      backoffDelay(1, 200, 30_000, () => 1),
      200,
    );
    assert.equal(
      backoffDelay(4, 200, 30_000, () => 1),
      1600,
    );
    assert.equal(
      backoffDelay(40, 200, 30_000, () => 1),
      30_000,
    );
    assert.equal(
      backoffDelay(40, 200, 30_000, () => 0),
      15_000,
    );
  });
});

// --- Syslog -----------------------------------------------------------------------------------

describe('syslog', () => {
  const fmt = {
    facility: 13,
    hostname: 'gw1',
    procId: '42',
    format: 'json',
    enterpriseId: 32473,
  } as const;

  test('escapes ", \\ and ] in PARAM-VALUE (RFC 5424 §6.3.3)', () => {
    assert.equal(escapeParamValue('a"b\\c]d'), 'a\\"b\\\\c\\]d');
    const nasty = 'we"ird\\conn]x [y="z"]';
    const e = makeEvent(2, {
      connection: nasty,
      actor: { kind: 'oidc', identity: 'zoë]"\\', owner: 'o' },
    });
    const parsed = parse5424(formatSyslogMessage(e, fmt));
    assert.equal(parsed.sd['airlock@32473']?.connection, nasty);
    assert.equal(parsed.sd['airlock@32473']?.identity, 'zoë]"\\');
    assert.equal(parsed.sd['airlock@32473']?.seq, '2');
    assert.equal((JSON.parse(parsed.msg) as { connection: string }).connection, nasty);
  });

  test('writes the RFC 5424 header: PRI, version, timestamp, app, procid and type as MSGID', () => {
    const parsed = parse5424(formatSyslogMessage(makeEvent(1), fmt));
    assert.equal(parsed.pri, 13 * 8 + 6);
    assert.equal(parsed.timestamp, new Date(BASE + 1).toISOString());
    assert.equal(parsed.hostname, 'gw1');
    assert.equal(parsed.app, 'airlock');
    assert.equal(parsed.procId, '42');
    assert.equal(parsed.msgId, 'session.started');
    const failed = makeEvent(3, { type: 'auth.failed', data: { reason: 'bad token' } });
    assert.equal(parse5424(formatSyslogMessage(failed, fmt)).pri, 13 * 8 + 4);
    const denied = makeEvent(2, { data: { decision: 'deny' } });
    assert.equal(parse5424(formatSyslogMessage(denied, fmt)).pri, 13 * 8 + 4);
  });

  test('keeps MSG plain ASCII, so no BOM is needed', () => {
    const e = makeEvent(1, { connection: 'café ☕' });
    const msg = parse5424(formatSyslogMessage(e, fmt)).msg;
    assert.match(msg, /^[\x20-\x7e]*$/);
    assert.equal((JSON.parse(msg) as { connection: string }).connection, 'café ☕');
    assert.equal(asciiJson('\u{1F600}'), '"\\ud83d\\ude00"');
  });

  test('sends OCSF when asked, with seq and hash in unmapped.airlock', () => {
    const e = makeEvent(1);
    const msg = JSON.parse(parse5424(formatSyslogMessage(e, { ...fmt, format: 'ocsf' })).msg);
    assert.equal(msg.class_uid, 3002);
    assert.deepEqual(msg.unmapped.airlock, { seq: 1, hash: e.hash });
  });

  test('delivers over TLS with the CA file and a matching servername', async () => {
    const receiver = await syslogReceiver(0, tlsFiles);
    const source = new MemorySource();
    source.append(25);
    const transport = new SyslogTransport({
      name: 'siem-tls',
      host: '127.0.0.1',
      port: receiver.port,
      tls: { caFile: tlsFiles.certFile, servername: 'localhost' },
      format: 'ocsf',
    });
    const r = runner({ source, transport, batchSize: 10 });
    try {
      await r.start();
      await until(() => receiver.messages.length >= 25, 'TLS frames');
      assert.deepEqual(
        receiver.messages.map((m) => Number(m.sd['airlock@32473']?.seq)),
        range(1, 25),
      );
      assert.equal(JSON.parse(receiver.messages[0]?.msg ?? '{}').metadata.version, '1.3.0');
    } finally {
      await r.close();
      await receiver.close();
    }
  });

  test('refuses a TLS receiver whose certificate does not match, or is not trusted', async () => {
    const receiver = await syslogReceiver(0, tlsFiles);
    const source = new MemorySource();
    source.append(3);
    const wrongName = new SyslogTransport({
      name: 'siem-tls',
      host: '127.0.0.1',
      port: receiver.port,
      tls: { caFile: tlsFiles.certFile, servername: 'siem.example.com' },
    });
    const untrusted = new SyslogTransport({
      name: 'siem-tls',
      host: '127.0.0.1',
      port: receiver.port,
      tls: { servername: 'localhost' },
    });
    try {
      await assert.rejects(wrongName.send(source.events), /altnames|does not match/i);
      await assert.rejects(untrusted.send(source.events), /self.signed|certificate/i);
      assert.equal(receiver.messages.length, 0);
    } finally {
      await wrongName.close();
      await untrusted.close();
      await receiver.close();
    }
  });

  test('reconnects on the next send after the receiver dropped the connection', async () => {
    const receiver = await syslogReceiver();
    const transport = new SyslogTransport({ name: 's', host: '127.0.0.1', port: receiver.port });
    try {
      await transport.send([makeEvent(1)]);
      await until(() => receiver.messages.length === 1, 'first');
      await receiver.close();
      const again = await syslogReceiver(receiver.port);
      try {
        // A write may still land in the dead socket before its close is seen; the runner would
        // re-send that batch, as this loop does.
        let sent = false;
        for (let i = 0; i < 20 && !sent; i++) {
          try {
            await transport.send([makeEvent(2)]);
            await until(() => again.messages.length > 0, 'second', 200);
            sent = true;
          } catch {
            // Broken pipe on the old connection: the next send reconnects.
          }
        }
        assert.ok(sent, 'delivered after reconnecting');
        assert.equal(again.messages.at(-1)?.sd['airlock@32473']?.seq, '2');
      } finally {
        await again.close();
      }
    } finally {
      await transport.close();
    }
  });
});

// --- Webhook ----------------------------------------------------------------------------------

interface Received {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

async function httpsReceiver(statuses: number[]) {
  const requests: Received[] = [];
  let i = 0;
  const server: HttpsServer = createHttpsServer(tlsFiles, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const status = statuses[Math.min(i++, statuses.length - 1)] ?? 200;
      requests.push({ status, headers: req.headers, body: Buffer.concat(chunks).toString() });
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(status < 300 ? '{"ok":true}' : '{"error":"nope"}');
    });
  });
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const port = await listen(server);
  return {
    url: `https://localhost:${port}/ingest`,
    requests,
    acked: () =>
      requests
        .filter((r) => r.status < 300)
        .flatMap((r) => r.body.trim().split('\n'))
        .map((l) => (JSON.parse(l) as { seq: number }).seq),
    close: () => stop(server, sockets),
  };
}

describe('webhook', () => {
  const SECRET = 'Bearer s3cr3t-token-value';

  test('500 then 200: retried, delivered once acknowledged, the Authorization never logged', async () => {
    const rx = await httpsReceiver([500, 200]);
    const { logger, lines } = captureLogger();
    const source = new MemorySource();
    source.append(30);
    const transport = new WebhookTransport({
      name: 'hook',
      url: rx.url,
      caFile: tlsFiles.certFile,
      authorization: new Secret(SECRET),
    });
    const r = runner({ source, transport, logger, batchSize: 100 });
    try {
      await r.start();
      await until(() => r.stats().cursor === 30, 'delivery');
      assert.equal(rx.requests.length, 2);
      assert.deepEqual(rx.acked(), range(1, 30));
      for (const req of rx.requests) {
        assert.equal(req.headers.authorization, SECRET);
        assert.equal(req.headers['content-type'], 'application/x-ndjson');
      }
      assert.equal(r.stats().failures, 1);
      const log = lines.join('\n');
      assert.match(log, /answered 500/);
      assert.doesNotMatch(log, /s3cr3t/);
      assert.doesNotMatch(log, /"nope"/, 'response bodies stay out of logs');
      assert.doesNotMatch(JSON.stringify(r.stats()), /s3cr3t/);
    } finally {
      await r.close();
      await rx.close();
    }
  });

  test('other 4xx are retried too, but logged as errors', async () => {
    const rx = await httpsReceiver([400, 200]);
    const { logger, lines } = captureLogger();
    const source = new MemorySource();
    source.append(3);
    const transport = new WebhookTransport({
      name: 'hook',
      url: rx.url,
      caFile: tlsFiles.certFile,
    });
    const r = runner({ source, transport, logger });
    try {
      await r.start();
      await until(() => r.stats().cursor === 3, 'delivery');
      const refused = lines.map((l) => JSON.parse(l)).find((l) => l.status === 400);
      assert.equal(refused?.level, 'error');
      assert.deepEqual(rx.acked(), [1, 2, 3]);
    } finally {
      await r.close();
      await rx.close();
    }
  });

  test('splunk-hec: HEC event objects with the Splunk token', async () => {
    const rx = await httpsReceiver([200]);
    const config = sinkConfigSchema.parse({
      name: 'splunk',
      kind: 'webhook',
      url: rx.url,
      format: 'splunk-hec',
      token: 'hec-token-123',
      ca_file: tlsFiles.certFile,
    });
    const source = new MemorySource();
    source.append(4);
    const dataDir = tempDir();
    const r = createSink(config, { source, dataDir, logger: captureLogger().logger });
    try {
      await r.start();
      await until(() => r.stats().cursor === 4, 'delivery');
      const req = rx.requests[0];
      assert.equal(req?.headers.authorization, 'Splunk hec-token-123');
      const objects = (req?.body ?? '')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      assert.deepEqual(
        objects.map((o) => [o.sourcetype, o.event.seq, o.time]),
        range(1, 4).map((s) => ['airlock:audit', s, (BASE + s) / 1000]),
      );
      assert.equal(await readCursorFile(join(dataDir, 'sinks', 'splunk.cursor')), 4);
    } finally {
      await r.close();
      await rx.close();
    }
  });

  test('OCSF lines keep bound parameters out unless the exporter adds them', () => {
    const e = makeEvent(2, {
      data: {
        command: { kind: 'sql', text: 'SELECT $1', params: [{ value: 'pw-123' }] },
        decision: 'allow',
      },
    });
    const line = encodeBatch([e], 'ocsf').toString();
    assert.doesNotMatch(line, /pw-123/);
    assert.equal(JSON.parse(line).class_uid, 6005);
  });

  test('refuses plain http except to loopback or when explicitly allowed', () => {
    assert.throws(
      () => new WebhookTransport({ name: 'h', url: 'http://siem.example.com/x' }),
      /refuses plain http/,
    );
    new WebhookTransport({ name: 'h', url: 'http://127.0.0.1:9/x' });
    new WebhookTransport({ name: 'h', url: 'http://[::1]:9/x' });
    new WebhookTransport({ name: 'h', url: 'http://siem.example.com/x', allowInsecureHttp: true });
    assert.equal(isLoopback('localhost'), true);
    assert.equal(isLoopback('127.10.0.1'), true);
    assert.equal(isLoopback('10.0.0.1'), false);
    const parsed = sinkConfigSchema.safeParse({
      name: 'h',
      kind: 'webhook',
      url: 'http://siem.example.com/x',
    });
    assert.equal(parsed.success, false);
  });

  test('times out a receiver that never answers', async () => {
    const server = createNetServer((s) => s.on('error', () => {}));
    const sockets = new Set<Socket>();
    server.on('connection', (s) => sockets.add(s));
    const port = await listen(server);
    const transport = new WebhookTransport({
      name: 'h',
      url: `http://127.0.0.1:${port}/`,
      timeoutMs: 100,
    });
    try {
      await assert.rejects(transport.send([makeEvent(1)]), /timed out/);
    } finally {
      await transport.close();
      await stop(server, sockets);
    }
  });
});

// --- Config -----------------------------------------------------------------------------------

describe('sinkConfigSchema', () => {
  test('fills defaults and keeps secrets redacted', () => {
    const c = sinkConfigSchema.parse({
      name: 'hook',
      kind: 'webhook',
      url: 'https://siem.example.com/ingest',
      authorization: 'Bearer abc',
    });
    assert.equal(c.kind, 'webhook');
    if (c.kind !== 'webhook') return;
    assert.equal(c.format, 'json');
    assert.equal(c.batch_size, 500);
    assert.equal(c.max_backlog_events, 1_000_000);
    assert.doesNotMatch(JSON.stringify(c), /abc/);
    assert.equal(c.authorization?.reveal(), 'Bearer abc');
  });

  test('syslog defaults to facility 13 (log audit) and JSON', () => {
    const c = sinkConfigSchema.parse({ name: 'siem', kind: 'syslog', host: 'siem', tls: {} });
    assert.equal(c.kind === 'syslog' && c.facility, 13);
    assert.equal(c.format, 'json');
  });

  test('rejects a token without splunk-hec, and unknown keys', () => {
    const url = 'https://siem.example.com/';
    assert.equal(
      sinkConfigSchema.safeParse({ name: 'h', kind: 'webhook', url, token: 't' }).success,
      false,
    );
    assert.equal(
      sinkConfigSchema.safeParse({ name: 'h', kind: 'syslog', host: 'x', bogus: 1 }).success,
      false,
    );
    assert.equal(
      sinkConfigSchema.safeParse({ name: 'h', kind: 'syslog', host: 'x', format: 'splunk-hec' })
        .success,
      false,
    );
  });

  test('createSink puts the cursor in <dataDir>/sinks/<name>.cursor', async () => {
    const receiver = await syslogReceiver();
    const dataDir = tempDir();
    const source = new MemorySource();
    source.append(5);
    const config = sinkConfigSchema.parse({
      name: 'local',
      kind: 'syslog',
      host: '127.0.0.1',
      port: receiver.port,
      poll_ms: 20,
    });
    const r = createSink(config, { source, dataDir, logger: captureLogger().logger });
    try {
      await r.start();
      await until(() => receiver.messages.length === 5, 'frames');
      await until(() => r.stats().cursor === 5, 'cursor');
      assert.equal(await readCursorFile(join(dataDir, 'sinks', 'local.cursor')), 5);
    } finally {
      await r.close();
      await receiver.close();
    }
  });
});
