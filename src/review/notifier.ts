/**
 * Outgoing review webhooks: a held statement waiting for approval, and its decision, POSTed to
 * Slack (incoming webhook), Microsoft Teams (legacy MessageCard connector) or any JSON receiver.
 *
 * Every request is signed, in the manner of Slack's own request signing:
 *
 *     x-airlock-timestamp: <unix seconds>
 *     x-airlock-signature: v1=<hex HMAC-SHA256(secret, `${timestamp}.${body}`)>
 *
 * A receiver recomputes the HMAC over the raw body bytes, compares it in constant time and
 * refuses timestamps more than five minutes from its own clock (replays). {@link
 * verifyReviewSignature} does all three.
 *
 * Delivery is fire-and-forget: up to three attempts (200 ms, then 1 s apart) on network errors,
 * timeouts, 429 and 5xx; other statuses are final. Failures are logged with the hook's name and
 * the status only: never the URL (Slack and Teams put their credential in it), never the secret.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { isLoopback } from '../audit/sink/webhook.ts';
import { nameField, secretField } from '../config/fields.ts';
import type { Secret } from '../config/secret.ts';
import type { Logger } from '../telemetry/logger.ts';

/** The signature scheme version, the prefix of `x-airlock-signature`. */
export const REVIEW_SIGNATURE_VERSION = 'v1';
export const REVIEW_TIMESTAMP_HEADER = 'x-airlock-timestamp';
export const REVIEW_SIGNATURE_HEADER = 'x-airlock-signature';

/** Waits between attempts; its length + 1 is the number of attempts. */
const RETRY_DELAYS_MS: readonly number[] = [200, 1000];
/** Deliveries in flight at once; notices beyond it are dropped (and logged). */
const MAX_IN_FLIGHT = 64;
const DEFAULT_CLOSE_TIMEOUT_MS = 5000;
/** Slack refuses section text over 3000 characters. */
const SLACK_TEXT_MAX = 2900;

const webhookUrl = z.url({ protocol: /^https?$/ }).refine(
  (s) => {
    const u = URL.parse(s);
    return u !== null && (u.protocol === 'https:' || isLoopback(u.hostname));
  },
  { message: 'use https (plain http only to 127.0.0.1, ::1 or localhost)' },
);

/**
 * One entry of `reviews.webhooks`.
 *
 * @example
 * reviewWebhookSchema.parse({ name: 'dba-slack', url: 'https://hooks.slack.com/services/T/B/X',
 *   format: 'slack', secret: 's3cret', console_url: 'https://airlock.example.com' });
 */
export const reviewWebhookSchema = z.strictObject({
  name: nameField,
  url: webhookUrl,
  format: z.enum(['slack', 'teams', 'json']).default('json'),
  /** Key of the HMAC in `x-airlock-signature`. */
  secret: secretField,
  timeout_ms: z.number().int().min(1).max(60_000).default(5000),
  /** Base URL of the web console; notices link to `${console_url}/reviews/<id>`. */
  console_url: z.url({ protocol: /^https?$/ }).optional(),
});

export type ReviewWebhookConfig = z.output<typeof reviewWebhookSchema>;
export type ReviewWebhookFormat = ReviewWebhookConfig['format'];

/** What a webhook says about one review. The statement is already clipped by the caller. */
export interface ReviewNotice {
  kind: 'review.requested' | 'review.decided';
  review: {
    id: string;
    status: 'pending' | 'approved' | 'denied' | 'expired' | 'cancelled';
    connection: string;
    requester: { identity: string; owner: string; kind: 'token' | 'oidc' };
    statement: string;
    tables: string[];
    rule?: string;
    message?: string;
    approvers: { groups: string[]; min: number }[];
    /** Epoch milliseconds. */
    expiresAt: number;
    impact?: { estimatedRows?: number; summary?: string };
    decidedBy?: string[];
    reason?: string;
  };
}

export interface ReviewNotifierOptions {
  logger: Logger;
  fetch?: typeof fetch;
  /** Epoch milliseconds; signs the timestamp and stamps `sentAt`. */
  clock?: () => number;
  /** Waits between attempts (default 200 ms, 1 s). */
  retryDelaysMs?: readonly number[];
  /** How long {@link ReviewNotifier.close} waits for deliveries in flight (default 5 s). */
  closeTimeoutMs?: number;
}

/** The outcome of one attempt: final (delivered or refused) or worth another try. */
type Attempt = { done: true; status: number } | { done: false; status?: number; error?: string };

/**
 * @example
 * const notifier = new ReviewNotifier(config.reviews.webhooks, { logger });
 * notifier.notify({ kind: 'review.requested', review });
 * await notifier.close();
 */
export class ReviewNotifier {
  readonly #hooks: readonly ReviewWebhookConfig[];
  readonly #logger: Logger;
  readonly #fetch: typeof fetch;
  readonly #clock: () => number;
  readonly #delays: readonly number[];
  readonly #closeTimeoutMs: number;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #abort = new AbortController();
  #closed = false;

  constructor(hooks: readonly ReviewWebhookConfig[], opts: ReviewNotifierOptions) {
    this.#hooks = hooks;
    this.#logger = opts.logger;
    this.#fetch = opts.fetch ?? globalThis.fetch;
    this.#clock = opts.clock ?? Date.now;
    this.#delays = opts.retryDelaysMs ?? RETRY_DELAYS_MS;
    this.#closeTimeoutMs = opts.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
  }

  /** Starts one delivery per hook and returns at once. Never throws. */
  notify(event: ReviewNotice): void {
    try {
      if (this.#closed) {
        this.#logger.debug('review webhook skipped: notifier closed', { review: event.review.id });
        return;
      }
      for (const hook of this.#hooks) this.#start(hook, event);
    } catch (err) {
      this.#logger.error('review webhook not sent', { review: event?.review?.id, err });
    }
  }

  /** Stops accepting notices and waits (bounded) for deliveries in flight; then aborts them. */
  async close(): Promise<void> {
    this.#closed = true;
    const settled = Promise.allSettled([...this.#inFlight]);
    const bound = new AbortController();
    const timedOut = await Promise.race([
      settled.then(() => false),
      sleep(this.#closeTimeoutMs, true, { signal: bound.signal }).catch(() => false),
    ]);
    bound.abort();
    if (timedOut) {
      this.#logger.warn('review webhooks still in flight at close; aborted', {
        count: this.#inFlight.size,
      });
      this.#abort.abort();
      await settled;
    }
  }

  #start(hook: ReviewWebhookConfig, event: ReviewNotice): void {
    if (this.#inFlight.size >= MAX_IN_FLIGHT) {
      this.#logger.warn('review webhook dropped: too many in flight', { hook: hook.name });
      return;
    }
    const delivery = this.#deliver(hook, event).catch((err: unknown) => {
      this.#logger.error('review webhook failed', { hook: hook.name, error: errorName(err) });
    });
    this.#inFlight.add(delivery);
    void delivery.finally(() => this.#inFlight.delete(delivery));
  }

  async #deliver(hook: ReviewWebhookConfig, event: ReviewNotice): Promise<void> {
    const now = this.#clock();
    const body = JSON.stringify(reviewPayload(hook, event, now));
    let last: Attempt = { done: false };
    for (let attempt = 0; attempt <= this.#delays.length; attempt++) {
      if (attempt > 0) await sleep(this.#delays[attempt - 1], undefined, this.#signal());
      last = await this.#attempt(hook, body, Math.floor(this.#clock() / 1000));
      if (last.done) break;
    }
    this.#report(hook, event, last);
  }

  async #attempt(hook: ReviewWebhookConfig, body: string, ts: number): Promise<Attempt> {
    const signal = AbortSignal.any([AbortSignal.timeout(hook.timeout_ms), this.#abort.signal]);
    try {
      const res = await this.#fetch(hook.url, {
        method: 'POST',
        headers: signedHeaders(hook.secret, ts, body),
        body,
        redirect: 'manual',
        signal,
      });
      // The body is discarded unread: some receivers echo requests.
      await res.body?.cancel().catch(() => undefined);
      return retryable(res.status)
        ? { done: false, status: res.status }
        : { done: true, status: res.status };
    } catch (err) {
      if (this.#abort.signal.aborted) throw err;
      return { done: false, error: errorName(err) };
    }
  }

  #report(hook: ReviewWebhookConfig, event: ReviewNotice, last: Attempt): void {
    const fields = { hook: hook.name, review: event.review.id, event: event.kind };
    if (last.done && last.status >= 200 && last.status < 300) {
      this.#logger.debug('review webhook delivered', { ...fields, status: last.status });
    } else if (last.done) {
      this.#logger.warn('review webhook refused', { ...fields, status: last.status });
    } else {
      const why = last.status !== undefined ? { status: last.status } : { error: last.error };
      this.#logger.warn('review webhook failed after retries', { ...fields, ...why });
    }
  }

  #signal(): { signal: AbortSignal } {
    return { signal: this.#abort.signal };
  }
}

function retryable(status: number): boolean {
  return status === 429 || status >= 500;
}

/** A short, URL-free description of a fetch failure: `timeout`, `ECONNREFUSED`, … */
function errorName(err: unknown): string {
  if (!(err instanceof Error)) return 'error';
  if (err.name === 'TimeoutError') return 'timeout';
  if (err.name === 'AbortError') return 'aborted';
  const code = (err.cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : err.name;
}

/**
 * The signature headers of one request body.
 *
 * @example
 * signedHeaders(secret, 1700000000, body)['x-airlock-signature']; // 'v1=5f0c…'
 */
export function signedHeaders(secret: Secret, ts: number, body: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    'user-agent': 'airlock-review-webhook',
    [REVIEW_TIMESTAMP_HEADER]: String(ts),
    [REVIEW_SIGNATURE_HEADER]: `${REVIEW_SIGNATURE_VERSION}=${sign(secret.reveal(), String(ts), body)}`,
  };
}

function sign(secret: string, timestamp: string, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

/**
 * Checks a request from a review webhook: the timestamp within `toleranceSeconds` of
 * `nowSeconds`, and one `v1=` signature in the header (comma-separated values allowed) equal,
 * in constant time, to the HMAC of `${timestamp}.${body}` under `secret`.
 *
 * @example
 * const ok = verifyReviewSignature(secret, req.headers['x-airlock-timestamp'], rawBody,
 *   req.headers['x-airlock-signature'], Math.floor(Date.now() / 1000));
 */
export function verifyReviewSignature(
  secret: string | Secret,
  timestamp: string,
  body: string,
  signatureHeader: string,
  nowSeconds: number,
  toleranceSeconds = 300,
): boolean {
  if (typeof timestamp !== 'string' || !/^\d{1,12}$/.test(timestamp)) return false;
  if (Math.abs(nowSeconds - Number(timestamp)) > toleranceSeconds) return false;
  const key = typeof secret === 'string' ? secret : secret.reveal();
  const expected = Buffer.from(sign(key, timestamp, body), 'hex');
  const prefix = `${REVIEW_SIGNATURE_VERSION}=`;
  return String(signatureHeader)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith(prefix) && /^[0-9a-f]{64}$/i.test(s.slice(prefix.length)))
    .some((s) => timingSafeEqual(Buffer.from(s.slice(prefix.length), 'hex'), expected));
}

/**
 * The JSON body for one hook's format.
 *
 * @example
 * reviewPayload(hook, notice, Date.now()); // { text, blocks } for format slack
 */
export function reviewPayload(
  hook: Pick<ReviewWebhookConfig, 'format' | 'console_url'>,
  event: ReviewNotice,
  nowMs: number,
): Record<string, unknown> {
  const link = hook.console_url ? reviewLink(hook.console_url, event.review.id) : undefined;
  if (hook.format === 'slack') return slackPayload(event, link);
  if (hook.format === 'teams') return teamsPayload(event, link);
  return {
    type: event.kind,
    review: link ? { ...event.review, url: link } : event.review,
    sentAt: new Date(nowMs).toISOString(),
  };
}

function reviewLink(consoleUrl: string, id: string): string {
  return `${consoleUrl.replace(/\/+$/, '')}/reviews/${encodeURIComponent(id)}`;
}

/** `Review requested`, `Review approved`, … */
function title(event: ReviewNotice): string {
  return event.kind === 'review.requested' ? 'Review requested' : `Review ${event.review.status}`;
}

function who(r: ReviewNotice['review']): string {
  const { identity, owner, kind } = r.requester;
  return kind === 'token' && owner !== identity ? `${identity} (agent of ${owner})` : identity;
}

function approversText(r: ReviewNotice['review']): string {
  return r.approvers.map((a) => `${a.min} of ${a.groups.join(' / ')}`).join('; ');
}

function impactText(r: ReviewNotice['review']): string | undefined {
  const i = r.impact;
  if (!i || (i.estimatedRows === undefined && !i.summary)) return undefined;
  const rows = i.estimatedRows !== undefined ? `~${i.estimatedRows} rows` : '';
  return [rows, i.summary].filter(Boolean).join(' · ');
}

/** Label/value lines shared by the Slack and Teams cards; values are plain text. */
function facts(r: ReviewNotice['review']): [string, string][] {
  const out: [string, string][] = [
    ['Requester', who(r)],
    ['Connection', r.connection],
  ];
  if (r.tables.length > 0) out.push(['Tables', r.tables.join(', ')]);
  if (r.rule) out.push(['Rule', r.rule]);
  if (r.message) out.push(['Message', r.message]);
  const impact = impactText(r);
  if (impact) out.push(['Impact', impact]);
  if (r.status === 'pending') {
    out.push(['Approvers', approversText(r)]);
    out.push(['Expires', new Date(r.expiresAt).toISOString()]);
  }
  if (r.decidedBy && r.decidedBy.length > 0) out.push(['Decided by', r.decidedBy.join(', ')]);
  if (r.reason) out.push(['Reason', r.reason]);
  return out;
}

/** Slack mrkdwn control characters (https://api.slack.com/reference/surfaces/formatting#escaping). */
function slackEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

function slackPayload(event: ReviewNotice, link: string | undefined): Record<string, unknown> {
  const r = event.review;
  const lines = facts(r).map(([k, v]) =>
    k === 'Expires'
      ? `*${k}:* <!date^${Math.floor(r.expiresAt / 1000)}^{date_short_pretty} {time}|${v}>`
      : `*${k}:* ${slackEscape(v)}`,
  );
  // A fence inside the statement would end the code block early.
  const statement = slackEscape(r.statement).replace(/```/g, '`\u200b``');
  const heading = `*${title(event)}* on \`${slackEscape(r.connection)}\``;
  const blocks: Record<string, unknown>[] = [
    mrkdwn(clip([heading, ...lines].join('\n'), SLACK_TEXT_MAX)),
    mrkdwn(`\`\`\`${clip(statement, SLACK_TEXT_MAX - 6)}\`\`\``),
  ];
  if (link) blocks.push(mrkdwn(`<${link}|Open review ${slackEscape(r.id)} in Airlock>`));
  const text = `${title(event)}: ${slackEscape(who(r))} on ${slackEscape(r.connection)}`;
  return { text, blocks };
}

function mrkdwn(text: string): Record<string, unknown> {
  return { type: 'section', text: { type: 'mrkdwn', text } };
}

const THEME: Record<ReviewNotice['review']['status'], string> = {
  pending: 'F2C744',
  approved: '2EB67D',
  denied: 'E01E5A',
  expired: '808080',
  cancelled: '808080',
};

function htmlEscape(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

/** A legacy Office 365 connector card (https://learn.microsoft.com/outlook/actionable-messages/message-card-reference). */
function teamsPayload(event: ReviewNotice, link: string | undefined): Record<string, unknown> {
  const r = event.review;
  const summary = `${title(event)}: ${who(r)} on ${r.connection}`;
  return {
    '@type': 'MessageCard',
    '@context': 'https://schema.org/extensions',
    summary,
    themeColor: THEME[r.status],
    title: title(event),
    sections: [
      {
        activityTitle: htmlEscape(summary),
        facts: facts(r).map(([name, value]) => ({ name, value: htmlEscape(value) })),
      },
      { text: `<pre>${htmlEscape(r.statement)}</pre>` },
    ],
    ...(link
      ? {
          potentialAction: [
            {
              '@type': 'OpenUri',
              name: 'Open in Airlock',
              targets: [{ os: 'default', uri: link }],
            },
          ],
        }
      : {}),
  };
}
