/**
 * `audit.sinks[]` in airlock.yaml: where committed audit events are forwarded. Keys are
 * snake_case, as everywhere in the config; secrets become `Secret`s that never print.
 *
 * ```yaml
 * audit:
 *   sinks:
 *     - name: siem
 *       kind: syslog
 *       host: siem.example.com
 *       tls: { ca_file: /etc/airlock/siem-ca.pem }
 *       format: ocsf
 *     - name: splunk
 *       kind: webhook
 *       url: https://splunk.example.com:8088/services/collector/event
 *       format: splunk-hec
 *       token: ${env:SPLUNK_HEC_TOKEN}
 * ```
 */
import { join } from 'node:path';
import { z } from 'zod';
import { nameField, secretField } from '../../config/fields.ts';
import { Secret } from '../../config/secret.ts';
import type { Logger } from '../../telemetry/logger.ts';
import { type EventSource, SinkRunner, type SinkTransport } from './runner.ts';
import { DEFAULT_FACILITY, SyslogTransport } from './syslog.ts';
import { isLoopback, WebhookTransport } from './webhook.ts';

const name = nameField;
const secret = secretField;

const port = z.number().int().min(1).max(65535);

/** Settings every sink has: how it batches, retries and bounds its backlog. */
const runnerFields = {
  name,
  batch_size: z.number().int().min(1).max(10_000).default(500),
  poll_ms: z.number().int().min(10).max(600_000).default(1000),
  retry_initial_ms: z.number().int().min(1).max(600_000).default(200),
  retry_max_ms: z.number().int().min(1).max(3_600_000).default(30_000),
  /** Further behind the ledger head than this, the sink skips ahead (and says so). */
  max_backlog_events: z.number().int().min(1).default(1_000_000),
};

export const syslogSinkSchema = z.strictObject({
  kind: z.literal('syslog'),
  ...runnerFields,
  host: z.string().min(1),
  /** Default 6514 with TLS (RFC 5425), 514 without. */
  port: port.optional(),
  /** RFC 5425 TLS; `{}` uses the system CAs and checks the certificate against `host`. */
  tls: z
    .strictObject({
      ca_file: z.string().min(1).optional(),
      /** The name the certificate must carry, when it is not `host`. */
      servername: z.string().min(1).optional(),
    })
    .optional(),
  /** RFC 5424 facility; 13 is "log audit". */
  facility: z.number().int().min(0).max(23).default(DEFAULT_FACILITY),
  format: z.enum(['json', 'ocsf']).default('json'),
});

export const webhookSinkSchema = z
  .strictObject({
    kind: z.literal('webhook'),
    ...runnerFields,
    url: z.url({ protocol: /^https?$/ }),
    format: z.enum(['json', 'ocsf', 'splunk-hec']).default('json'),
    /** The whole Authorization header value, e.g. `Bearer …`. */
    authorization: secret.optional(),
    /** Splunk HEC token (format splunk-hec): sent as `Authorization: Splunk <token>`. */
    token: secret.optional(),
    ca_file: z.string().min(1).optional(),
    /** Allow plain http:// to a host that is not loopback. */
    allow_insecure_http: z.boolean().default(false),
    timeout_ms: z.number().int().min(1).max(600_000).default(10_000),
  })
  .superRefine((c, ctx) => {
    if (c.token && c.format !== 'splunk-hec') {
      ctx.addIssue({ code: 'custom', path: ['token'], message: 'token needs format splunk-hec' });
    }
    if (c.token && c.authorization) {
      ctx.addIssue({ code: 'custom', path: ['token'], message: 'give token or authorization' });
    }
    if (insecureUrl(c.url) && !c.allow_insecure_http) {
      ctx.addIssue({
        code: 'custom',
        path: ['url'],
        message: 'plain http only to loopback; use https or set allow_insecure_http',
      });
    }
  });

function insecureUrl(url: string): boolean {
  const u = URL.parse(url);
  return u !== null && u.protocol === 'http:' && !isLoopback(u.hostname);
}

/** One entry of `audit.sinks`. */
export const sinkConfigSchema = z.discriminatedUnion('kind', [syslogSinkSchema, webhookSinkSchema]);

export type SinkConfig = z.output<typeof sinkConfigSchema>;
export type SyslogSinkConfig = z.output<typeof syslogSinkSchema>;
export type WebhookSinkConfig = z.output<typeof webhookSinkSchema>;

export interface SinkDeps {
  readonly source: EventSource;
  /** The gateway's data_dir; cursors live in `<dataDir>/sinks/<name>.cursor`. */
  readonly dataDir: string;
  readonly logger: Logger;
}

/**
 * Builds the runner for one configured sink (not started).
 *
 * @example
 * const runner = createSink(sinkConfigSchema.parse(entry), { source, dataDir, logger });
 * await runner.start();
 */
export function createSink(config: SinkConfig, deps: SinkDeps): SinkRunner {
  const logger = deps.logger.child({ sink: config.name });
  const transport = config.kind === 'syslog' ? syslogTransport(config, logger) : webhook(config);
  return new SinkRunner({
    source: deps.source,
    transport,
    cursorFile: join(deps.dataDir, 'sinks', `${config.name}.cursor`),
    logger,
    batchSize: config.batch_size,
    pollMs: config.poll_ms,
    retry: { initialMs: config.retry_initial_ms, maxMs: config.retry_max_ms },
    maxBacklogEvents: config.max_backlog_events,
  });
}

function syslogTransport(c: SyslogSinkConfig, logger: Logger): SinkTransport {
  if (!c.tls && !isLoopback(c.host)) {
    logger.warn('syslog sink sends audit events in cleartext; configure tls', { host: c.host });
  }
  return new SyslogTransport({
    name: c.name,
    host: c.host,
    port: c.port ?? (c.tls ? 6514 : 514),
    ...(c.tls
      ? {
          tls: {
            ...(c.tls.ca_file ? { caFile: c.tls.ca_file } : {}),
            ...(c.tls.servername ? { servername: c.tls.servername } : {}),
          },
        }
      : {}),
    facility: c.facility,
    format: c.format,
  });
}

function webhook(c: WebhookSinkConfig): SinkTransport {
  const authorization = c.token ? new Secret(`Splunk ${c.token.reveal()}`) : c.authorization;
  return new WebhookTransport({
    name: c.name,
    url: c.url,
    format: c.format,
    ...(authorization ? { authorization } : {}),
    ...(c.ca_file ? { caFile: c.ca_file } : {}),
    allowInsecureHttp: c.allow_insecure_http,
    timeoutMs: c.timeout_ms,
  });
}
