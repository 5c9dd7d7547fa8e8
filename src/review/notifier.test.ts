import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createLogger } from '../telemetry/logger.ts';
import {
  type ReviewNotice,
  ReviewNotifier,
  type ReviewNotifierOptions,
  reviewWebhookSchema,
  verifyReviewSignature,
} from './notifier.ts';

const SECRET = 'whsec-very-secret-value-42';

interface Call {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** What the receiver does with the n-th request (0-based) to a path. */
type Responder = (res: ServerResponse, n: number) => void;

const calls: Call[] = [];
const responders = new Map<string, Responder>();
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const path = req.url ?? '/';
    const n = calls.filter((c) => c.path === path).length;
    calls.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
    const respond = responders.get(path) ?? ((r: ServerResponse) => r.writeHead(204).end());
    respond(res, n);
  });
});
let base = '';

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  calls.length = 0;
  responders.clear();
});

const notice = (over: Partial<ReviewNotice['review']> = {}): ReviewNotice => ({
  kind: 'review.requested',
  review: {
    id: 'rv_0123456789abcdef',
    status: 'pending',
    connection: 'clinic',
    requester: { identity: 'ci-agent', owner: 'olivia@example.com', kind: 'token' },
    statement: "DELETE FROM patients WHERE id < 100 AND note <> '```x```'",
    tables: ['patients'],
    rule: 'hold-deletes',
    approvers: [{ groups: ['dba'], min: 1 }],
    expiresAt: Date.UTC(2030, 0, 1, 12, 0, 0),
    impact: { estimatedRows: 99, summary: 'Delete on patients' },
    ...over,
  },
});

function hook(path: string, extra: Record<string, unknown> = {}) {
  return reviewWebhookSchema.parse({
    name: `hook${path.replace(/\W/g, '-')}`,
    url: `${base}${path}`,
    secret: SECRET,
    ...extra,
  });
}

/** A notifier whose log lines are kept; small retry delays so tests stay fast. */
function notifier(hooks: ReturnType<typeof hook>[], opts: Partial<ReviewNotifierOptions> = {}) {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', write: (l) => lines.push(l) });
  const n = new ReviewNotifier(hooks, { logger, retryDelaysMs: [20, 40], ...opts });
  return { n, lines, logs: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

describe('reviewWebhookSchema', () => {
  it('fills defaults and wraps the secret', () => {
    const h = reviewWebhookSchema.parse({ name: 'h', url: 'https://x.example/h', secret: 's' });
    assert.equal(h.format, 'json');
    assert.equal(h.timeout_ms, 5000);
    assert.equal(h.secret.reveal(), 's');
    assert.equal(JSON.stringify(h).includes('"s"'), false);
  });

  it('accepts plain http only to loopback', () => {
    const parse = (url: string) =>
      reviewWebhookSchema.safeParse({ name: 'h', url, secret: 's' }).success;
    assert.equal(parse('http://127.0.0.1:9/x'), true);
    assert.equal(parse('http://localhost:9/x'), true);
    assert.equal(parse('http://[::1]:9/x'), true);
    assert.equal(parse('http://hooks.example.com/x'), false);
    assert.equal(parse('ftp://hooks.example.com/x'), false);
  });

  it('is strict and needs a secret', () => {
    assert.equal(
      reviewWebhookSchema.safeParse({ name: 'h', url: 'https://x.example', secret: 's', extra: 1 })
        .success,
      false,
    );
    assert.equal(
      reviewWebhookSchema.safeParse({ name: 'h', url: 'https://x.example' }).success,
      false,
    );
  });
});

describe('ReviewNotifier payloads', () => {
  it('sends a Slack message: text, and mrkdwn blocks with statement, tables, impact, link', async () => {
    const { n } = notifier([
      hook('/slack', { format: 'slack', console_url: 'https://airlock.example.com/' }),
    ]);
    n.notify(notice());
    await n.close();
    assert.equal(calls.length, 1);
    const call = calls[0]!;
    assert.equal(call.headers['content-type'], 'application/json');
    const body = JSON.parse(call.body) as {
      text: string;
      blocks: { type: string; text: { type: string; text: string } }[];
    };
    assert.match(
      body.text,
      /^Review requested: ci-agent \(agent of olivia@example\.com\) on clinic$/,
    );
    assert.ok(body.blocks.length >= 3);
    for (const b of body.blocks) {
      assert.equal(b.type, 'section');
      assert.equal(b.text.type, 'mrkdwn');
    }
    const all = body.blocks.map((b) => b.text.text).join('\n');
    assert.match(all, /\*Connection:\* clinic/);
    assert.match(all, /\*Tables:\* patients/);
    assert.match(all, /\*Impact:\* ~99 rows · Delete on patients/);
    assert.match(all, /<!date\^1893499200\^/);
    assert.match(
      all,
      /```DELETE FROM patients WHERE id &lt; 100 AND note &lt;&gt; '`\u200b``x`\u200b``'```/,
    );
    assert.match(
      all,
      /<https:\/\/airlock\.example\.com\/reviews\/rv_0123456789abcdef\|Open review/,
    );
  });

  it('sends a Teams MessageCard with facts, colour and an OpenUri action', async () => {
    const { n } = notifier([
      hook('/teams', { format: 'teams', console_url: 'https://airlock.example.com' }),
    ]);
    n.notify({
      ...notice({ status: 'approved', decidedBy: ['bob@example.com'], reason: 'ok' }),
      kind: 'review.decided',
    });
    await n.close();
    const card = JSON.parse(calls[0]!.body) as Record<string, unknown> & {
      sections: { facts?: { name: string; value: string }[]; text?: string }[];
      potentialAction: { '@type': string; targets: { uri: string }[] }[];
    };
    assert.equal(card['@type'], 'MessageCard');
    assert.equal(card['@context'], 'https://schema.org/extensions');
    assert.match(String(card.summary), /^Review approved: /);
    assert.equal(card.themeColor, '2EB67D');
    const facts = Object.fromEntries((card.sections[0]!.facts ?? []).map((f) => [f.name, f.value]));
    assert.equal(facts.Connection, 'clinic');
    assert.equal(facts['Decided by'], 'bob@example.com');
    assert.equal(facts.Reason, 'ok');
    assert.equal(facts.Expires, undefined, 'a decided review has no expiry line');
    assert.match(card.sections[1]!.text ?? '', /^<pre>DELETE FROM patients WHERE id &lt; 100/);
    assert.equal(card.potentialAction[0]!['@type'], 'OpenUri');
    assert.equal(
      card.potentialAction[0]!.targets[0]!.uri,
      'https://airlock.example.com/reviews/rv_0123456789abcdef',
    );
  });

  it('sends a Teams card without potentialAction when there is no console_url', async () => {
    const { n } = notifier([hook('/teams2', { format: 'teams' })]);
    n.notify(notice());
    await n.close();
    const card = JSON.parse(calls[0]!.body) as Record<string, unknown>;
    assert.equal('potentialAction' in card, false);
    assert.equal(card.themeColor, 'F2C744');
  });

  it('sends generic JSON: type, review and sentAt from the clock', async () => {
    const { n } = notifier([hook('/json')], { clock: () => Date.UTC(2029, 5, 1) });
    n.notify(notice());
    await n.close();
    const body = JSON.parse(calls[0]!.body) as {
      type: string;
      review: ReviewNotice['review'];
      sentAt: string;
    };
    assert.equal(body.type, 'review.requested');
    assert.deepEqual(body.review, notice().review);
    assert.equal(body.sentAt, '2029-06-01T00:00:00.000Z');
    assert.equal(calls[0]!.headers['x-airlock-timestamp'], String(Date.UTC(2029, 5, 1) / 1000));
  });

  it('sends one request per hook', async () => {
    const { n } = notifier([hook('/a'), hook('/b', { format: 'slack' })]);
    n.notify(notice());
    await n.close();
    assert.deepEqual(calls.map((c) => c.path).sort(), ['/a', '/b']);
  });
});

describe('ReviewNotifier signatures', () => {
  it('signs so the receiver verifies; a tampered body or an old timestamp fails', async () => {
    const { n } = notifier([hook('/sig', { format: 'slack' })]);
    n.notify(notice());
    await n.close();
    const { headers, body } = calls[0]!;
    const ts = String(headers['x-airlock-timestamp']);
    const sig = String(headers['x-airlock-signature']);
    assert.match(sig, /^v1=[0-9a-f]{64}$/);
    assert.ok(Math.abs(Number(ts) - nowSeconds()) <= 2);
    assert.equal(verifyReviewSignature(SECRET, ts, body, sig, nowSeconds()), true);
    assert.equal(
      verifyReviewSignature(SECRET, ts, body.replace('clinic', 'clinIc'), sig, nowSeconds()),
      false,
    );
    assert.equal(verifyReviewSignature('other-secret', ts, body, sig, nowSeconds()), false);
    assert.equal(verifyReviewSignature(SECRET, ts, body, sig, Number(ts) + 301), false);
    assert.equal(verifyReviewSignature(SECRET, ts, body, sig, Number(ts) + 3600, 7200), true);
    assert.equal(
      verifyReviewSignature(SECRET, String(Number(ts) - 1), body, sig, nowSeconds()),
      false,
    );
  });

  it('rejects malformed headers and accepts one good value among several', () => {
    const ts = String(nowSeconds());
    assert.equal(verifyReviewSignature(SECRET, ts, '{}', 'v1=zz', nowSeconds()), false);
    assert.equal(verifyReviewSignature(SECRET, ts, '{}', '', nowSeconds()), false);
    assert.equal(verifyReviewSignature(SECRET, 'abc', '{}', 'v1=00', nowSeconds()), false);
    assert.equal(
      verifyReviewSignature(SECRET, ts, '{}', `v1=${'0'.repeat(63)}`, nowSeconds()),
      false,
    );
  });
});

describe('ReviewNotifier delivery', () => {
  it('retries a 500 and then succeeds, with the same signed body', async () => {
    responders.set('/flaky', (res, i) => res.writeHead(i === 0 ? 500 : 200).end('ok'));
    const { n, logs } = notifier([hook('/flaky')]);
    n.notify(notice());
    await n.close();
    assert.equal(calls.length, 2);
    assert.equal(calls[0]!.body, calls[1]!.body);
    assert.ok(logs().some((l) => l.msg === 'review webhook delivered' && l.status === 200));
  });

  it('retries 429 and gives up after three attempts on 503', async () => {
    responders.set('/busy', (res) => res.writeHead(503).end());
    const { n, logs } = notifier([hook('/busy')]);
    n.notify(notice());
    await n.close();
    assert.equal(calls.length, 3);
    const failed = logs().find((l) => l.msg === 'review webhook failed after retries');
    assert.equal(failed?.status, 503);
    assert.equal(failed?.hook, 'hook-busy');
  });

  it('does not retry a 400, and logs only the hook name and status', async () => {
    responders.set('/bad?token=query-secret', (res) => res.writeHead(400).end('bad'));
    const { n, lines, logs } = notifier([hook('/bad?token=query-secret', { name: 'bad' })]);
    n.notify(notice());
    await n.close();
    assert.equal(calls.length, 1);
    const refused = logs().find((l) => l.msg === 'review webhook refused');
    assert.equal(refused?.status, 400);
    assert.equal(lines.join('').includes('query-secret'), false);
    assert.equal(lines.join('').includes(base), false);
  });

  it('cuts a hanging receiver at timeout_ms and never rejects to the caller', async () => {
    responders.set('/hang', () => {});
    const { n, logs } = notifier([hook('/hang', { timeout_ms: 100 })], { retryDelaysMs: [10] });
    const started = Date.now();
    assert.equal(n.notify(notice()), undefined);
    await n.close();
    const took = Date.now() - started;
    assert.equal(calls.length, 2);
    assert.ok(took >= 190 && took < 2000, `took ${took} ms`);
    const failed = logs().find((l) => l.msg === 'review webhook failed after retries');
    assert.equal(failed?.error, 'timeout');
  });

  it('reports a refused connection without the URL', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const h = reviewWebhookSchema.parse({
      name: 'gone',
      url: `http://127.0.0.1:${port}/x`,
      secret: SECRET,
    });
    const { n, lines, logs } = notifier([h]);
    n.notify(notice());
    await n.close();
    assert.equal(logs().find((l) => l.hook === 'gone')?.error, 'ECONNREFUSED');
    assert.equal(lines.join('').includes(String(port)), false);
  });

  it('notify returns before the delivery; close() waits for it', async () => {
    let release: () => void = () => {};
    responders.set('/slow', (res) => {
      release = () => res.writeHead(200).end();
      setTimeout(() => release(), 300);
    });
    const { n, logs } = notifier([hook('/slow')]);
    const t0 = Date.now();
    n.notify(notice());
    assert.ok(Date.now() - t0 < 50);
    assert.equal(calls.length, 0);
    await n.close();
    assert.ok(Date.now() - t0 >= 290, 'close returned before the delivery finished');
    assert.equal(calls.length, 1);
    assert.ok(logs().some((l) => l.msg === 'review webhook delivered'));
  });

  it('close() is bounded: it aborts deliveries still in flight', async () => {
    responders.set('/stuck', () => {});
    const { n, logs } = notifier([hook('/stuck', { timeout_ms: 30_000 })], { closeTimeoutMs: 150 });
    n.notify(notice());
    const t0 = Date.now();
    await n.close();
    assert.ok(Date.now() - t0 < 1500, `close took ${Date.now() - t0} ms`);
    assert.ok(logs().some((l) => l.msg === 'review webhooks still in flight at close; aborted'));
    n.notify(notice());
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(calls.length, 1, 'a closed notifier sends nothing');
  });

  it('never throws from notify, even when fetch throws synchronously', async () => {
    const { n, logs } = notifier([hook('/x')], {
      fetch: (() => {
        throw new Error('boom');
      }) as unknown as typeof fetch,
    });
    assert.doesNotThrow(() => n.notify(notice()));
    await n.close();
    assert.ok(logs().some((l) => l.msg === 'review webhook failed after retries'));
  });

  it('keeps the secret out of every payload, header but the signature, and log', async () => {
    responders.set('/leak-500', (res) => res.writeHead(500).end(SECRET));
    const hooks = [
      hook('/leak-slack', { format: 'slack' }),
      hook('/leak-teams', { format: 'teams' }),
      hook('/leak-json'),
      hook('/leak-500'),
    ];
    const { n, lines } = notifier(hooks);
    n.notify(notice());
    await n.close();
    assert.ok(calls.length >= 4);
    for (const c of calls) {
      assert.equal(c.body.includes(SECRET), false);
      assert.equal(JSON.stringify(c.headers).includes(SECRET), false);
    }
    assert.ok(lines.length > 0);
    assert.equal(lines.join('\n').includes(SECRET), false);
    assert.equal(lines.join('\n').includes('whsec'), false);
  });
});
