/**
 * The HTTP side of airlock.yaml: `type: http` and `type: llm` connections, the `http:` limits of
 * the HTTP listener, and `budgets:` (token and request limits per identity or owner per window).
 */
import { z } from 'zod';
import { parseDuration } from '../policy/schema.ts';
import { nameField, secretField } from './fields.ts';

const groups = z.array(z.string().min(1)).min(1).optional();
const labels = z.record(z.string(), z.string()).optional();

/** An absolute http(s) URL without credentials, query or fragment: the upstream base. */
const upstreamUrl = z.string().refine((s) => {
  try {
    const u = new URL(s);
    return (
      (u.protocol === 'http:' || u.protocol === 'https:') &&
      u.username === '' &&
      u.password === '' &&
      u.search === '' &&
      u.hash === ''
    );
  } catch {
    return false;
  }
}, 'expected an http:// or https:// URL without credentials, query or fragment');

/** A Host name clients may address the connection by (Host header, or an HTTP proxy target). */
const hostName = z
  .string()
  .regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, 'expected a host name, optionally with :port');

/** Header name as RFC 9110 §5.1 allows (a token). */
const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'not a valid header name');

/** How Airlock authenticates to the upstream: the client never sees (or sends) this. */
export const credentialSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('bearer'), token: secretField }),
  z.strictObject({ type: z.literal('basic'), username: z.string().min(1), password: secretField }),
  z.strictObject({ type: z.literal('header'), name: headerName, value: secretField }),
]);

const common = {
  name: nameField,
  url: upstreamUrl,
  /** Extra headers sent upstream (values may be secrets: `${env:...}`). */
  headers: z.record(headerName, secretField).optional(),
  /** Host names that route to this connection (Host header, or proxy mode). */
  hosts: z.array(hostName).min(1).optional(),
  /** PEM file of the CA that signs the upstream's certificate (default: the system's). */
  ca_file: z.string().min(1).optional(),
  /** Give up on an upstream that sends nothing for this long. */
  timeout_ms: z.number().int().min(100).max(3_600_000).default(600_000),
  allow_groups: groups,
  labels,
};

export const httpConnectionSchema = z.strictObject({
  ...common,
  type: z.literal('http'),
  credential: credentialSchema.optional(),
});

export const LLM_DIALECTS = ['openai', 'anthropic'] as const;
export type LlmDialectName = (typeof LLM_DIALECTS)[number];

export const llmConnectionSchema = z.strictObject({
  ...common,
  type: z.literal('llm'),
  dialect: z.enum(LLM_DIALECTS).default('openai'),
  /** The provider key: sent as `Authorization: Bearer` (openai) or `x-api-key` (anthropic). */
  api_key: secretField.optional(),
  /** Serve this connection on `/v1/...` (the OpenAI SDK's default path) as well as `/c/<name>`. */
  default: z.boolean().default(false),
  /** Output tokens reserved against budgets when a request names no `max_tokens`. */
  default_max_tokens: z.number().int().min(1).max(10_000_000).default(4096),
});

export type HttpConnectionConfig = z.output<typeof httpConnectionSchema>;
export type LlmConnectionConfig = z.output<typeof llmConnectionSchema>;
export type CredentialConfig = z.output<typeof credentialSchema>;

const window = z.string().transform((s, ctx) => {
  const ms = parseDuration(s);
  if (ms === undefined || ms < 1000 || ms > 31 * 86_400_000) {
    ctx.addIssue({ code: 'custom', message: 'expected a window like 60s, 1h, 1d (at most 31d)' });
    return z.NEVER;
  }
  return ms;
});

export const budgetSchema = z
  .strictObject({
    name: nameField,
    /** Connection-name globs (`!` excludes); default every llm connection. */
    connections: z.array(z.string().min(1)).min(1).optional(),
    /** Only identities in one of these groups; default everyone. */
    groups: z.array(z.string().min(1)).min(1).optional(),
    /** Count per agent/user identity, or per accountable human (all their agents together). */
    per: z.enum(['identity', 'owner']).default('owner'),
    /** Fixed windows aligned to the epoch (a `1d` window resets at 00:00 UTC). */
    window,
    max_tokens: z.number().int().min(1).optional(),
    max_requests: z.number().int().min(1).optional(),
  })
  .refine((b) => b.max_tokens !== undefined || b.max_requests !== undefined, {
    message: 'a budget needs max_tokens, max_requests, or both',
  });

export type BudgetConfig = z.output<typeof budgetSchema>;

export const HTTP_DEFAULTS = {
  max_body_bytes: 16 * 1024 * 1024,
  record_body_bytes: 65_536,
  hold_back_chars: 128,
  max_header_bytes: 32 * 1024,
} as const;

export const httpSettingsSchema = z
  .strictObject({
    /** Largest request body accepted, and largest response body buffered for masking. */
    max_body_bytes: z
      .number()
      .int()
      .min(1024)
      .max(1_073_741_824)
      .default(HTTP_DEFAULTS.max_body_bytes),
    /** How much of each request and response body the ledger keeps (0: none). */
    record_body_bytes: z
      .number()
      .int()
      .min(0)
      .max(16_777_216)
      .default(HTTP_DEFAULTS.record_body_bytes),
    /**
     * Streamed text is held back this many characters (and to the end of a word) before it is
     * forwarded on a masked session, so a secret split across chunks is still caught whole.
     */
    hold_back_chars: z.number().int().min(16).max(65_536).default(HTTP_DEFAULTS.hold_back_chars),
  })
  .default({
    max_body_bytes: HTTP_DEFAULTS.max_body_bytes,
    record_body_bytes: HTTP_DEFAULTS.record_body_bytes,
    hold_back_chars: HTTP_DEFAULTS.hold_back_chars,
  });
