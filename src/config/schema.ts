/**
 * The airlock.yaml schema. Keys are snake_case in YAML; the loader validates with zod and reports
 * the first problems by key path, e.g. `connections[0].port: expected a number`.
 */
import { z } from 'zod';
import { sinkConfigSchema } from '../audit/sink/config.ts';
import { oidcIssuerSchema } from '../identity/oidc/config.ts';
import { MASKING_DEFAULTS, maskingSchema } from '../masking/config.ts';
import { reviewWebhookSchema } from '../review/notifier.ts';
import { nameField, secretField } from './fields.ts';
import {
  budgetSchema,
  type HttpConnectionConfig,
  httpConnectionSchema,
  httpSettingsSchema,
  type LlmConnectionConfig,
  llmConnectionSchema,
} from './http-schema.ts';

const hostPort = z
  .string()
  .regex(
    /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/,
    'expected host:port, e.g. 127.0.0.1:15432',
  );

const name = nameField;
const secret = secretField;

export const postgresConnectionSchema = z.strictObject({
  name,
  type: z.literal('postgres'),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(5432),
  database: z.string().min(1),
  user: z.string().min(1),
  password: secret,
  ssl: z.enum(['disable', 'prefer', 'require', 'verify-full']).default('prefer'),
  ssl_ca_file: z.string().optional(),
  connect_timeout_ms: z.number().int().positive().default(10_000),
  /** Only members of these groups may use the connection; unset lets any authenticated user in. */
  allow_groups: z.array(z.string().min(1)).min(1).optional(),
  /** Free-form labels policy rules can match, e.g. `{ env: prod, data: phi }`. */
  labels: z.record(z.string(), z.string()).optional(),
});

/**
 * How Airlock checks an SSH server's host key: `SHA256:...` fingerprints (as `ssh-keygen -lf`
 * prints them) or OpenSSH public key lines (`ssh-ed25519 AAAA...`), or `pin` to trust the first
 * key seen and refuse any other afterwards (pinned in `<data_dir>/ssh/pinned-host-keys.json`).
 */
const hostKeyEntry = z
  .string()
  .trim()
  .regex(
    /^(SHA256:[A-Za-z0-9+/]{43}=?|(ssh|ecdsa|sk)-[a-z0-9@.-]+ [A-Za-z0-9+/]+={0,2}( .*)?)$/,
    'expected SHA256:<fingerprint>, an OpenSSH public key line, or pin',
  );

export const sshConnectionSchema = z
  .strictObject({
    name,
    type: z.literal('ssh'),
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(22),
    /** The account Airlock logs in as upstream; clients never learn its credential. */
    user: z.string().min(1),
    /** A private key (OpenSSH or PEM text, e.g. `${file:/run/secrets/key}`) or a path to one. */
    private_key: secret.optional(),
    passphrase: secret.optional(),
    password: secret.optional(),
    host_key: z
      .union([z.literal('pin'), hostKeyEntry, z.array(hostKeyEntry).min(1)])
      .default('pin'),
    connect_timeout_ms: z.number().int().positive().default(10_000),
    allow_groups: z.array(z.string().min(1)).min(1).optional(),
    labels: z.record(z.string(), z.string()).optional(),
  })
  .superRefine((c, ctx) => {
    if (c.private_key === undefined && c.password === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['private_key'],
        message:
          'an ssh connection needs private_key or password (the credential only Airlock holds)',
      });
    }
  });

const sshRecordingSchema = z.strictObject({
  /** Record interactive sessions (a shell, or a command with a terminal) as asciicast v2. */
  enabled: z.boolean().default(true),
  /** Also record what the user types (off by default: typed passwords are not echoed, but are input). */
  input: z.boolean().default(false),
  /** Mask secrets (keys, tokens, passwords in context) in recordings. */
  mask: z.boolean().default(true),
  /** Output held back so a secret split across writes is still found (characters). */
  hold_back_chars: z.number().int().min(256).max(65_536).default(4096),
  /** Stop recording a channel (and mark it truncated) beyond this many bytes of output. */
  max_bytes: z
    .number()
    .int()
    .min(1024)
    .default(256 * 1024 * 1024),
  /** A session whose recording cannot be written is refused or ended (fail closed). */
  required: z.boolean().default(true),
});

const SSH_RECORDING_DEFAULTS = {
  enabled: true,
  input: false,
  mask: true,
  hold_back_chars: 4096,
  max_bytes: 256 * 1024 * 1024,
  required: true,
};

export const sshSchema = z.strictObject({
  /** The gateway's own host key; default `<data_dir>/ssh/host_ed25519_key`, generated once. */
  host_key_file: z.string().min(1).optional(),
  /** Time to authenticate before the connection is dropped. */
  auth_timeout_ms: z.number().int().positive().default(30_000),
  max_auth_attempts: z.number().int().min(1).max(20).default(6),
  /** Most channels (shells, commands, sftp, forwards) open at once on one connection. */
  max_channels: z.number().int().min(1).max(256).default(10),
  /** Client environment variables passed upstream (globs); others are dropped and recorded. */
  forward_env: z.array(z.string().min(1)).default(['LANG', 'LC_*']),
  recording: sshRecordingSchema.default(SSH_RECORDING_DEFAULTS),
});

export const SSH_DEFAULTS = {
  auth_timeout_ms: 30_000,
  max_auth_attempts: 6,
  max_channels: 10,
  forward_env: ['LANG', 'LC_*'],
  recording: SSH_RECORDING_DEFAULTS,
};

const groupList = z.array(z.string().min(1)).optional();

export const identitySchema = z.strictObject({
  /** OIDC issuers whose JWTs are accepted as passwords and bearer tokens. */
  oidc: z.array(oidcIssuerSchema).default([]),
  /** Which groups (from the IdP, or carried by an agent token) hold each Airlock role. */
  roles: z
    .strictObject({ admin: groupList, approver: groupList, auditor: groupList, user: groupList })
    .default({}),
  /** How often live sessions are re-checked for offboarding, revocation and expiry. */
  recheck_interval_ms: z.number().int().min(100).max(60_000).default(2000),
  /** End a live session when its token or JWT expires (default), not only refuse new ones. */
  end_sessions_at_expiry: z.boolean().default(true),
  /** Longest lifetime of an agent token minted through the API. */
  max_agent_token_ttl_hours: z.number().positive().max(8784).default(720),
});

export const configSchema = z
  .strictObject({
    listen: z
      .strictObject({
        postgres: hostPort.optional(),
        /** The control-plane API (tokens, offboarding); HTTPS when TLS is configured. */
        api: hostPort.optional(),
        /** HTTP and LLM connections (`/c/<name>/...`, `/v1/...`, by Host, or as an HTTP proxy). */
        http: hostPort.optional(),
        /** The same as `http`, over TLS with the gateway's certificate. */
        https: hostPort.optional(),
        /** SSH: clients log in as `<connection>` with a token or a registered key. */
        ssh: hostPort.optional(),
      })
      .default({}),
    data_dir: z.string().min(1).default('./.airlock'),
    tls: z
      .strictObject({
        cert_file: z.string().optional(),
        key_file: z.string().optional(),
        /** Generate a self-signed certificate in data_dir when no files are given. */
        self_signed: z.boolean().default(true),
      })
      .default({ self_signed: true }),
    postgres: z
      .strictObject({
        /** Accept the token as a cleartext password on a connection without TLS. */
        allow_cleartext_without_tls: z.boolean().default(false),
        max_message_bytes: z
          .number()
          .int()
          .min(1024)
          .max(1_073_741_824)
          .default(64 * 1024 * 1024),
        startup_timeout_ms: z.number().int().positive().default(15_000),
      })
      .default({
        allow_cleartext_without_tls: false,
        max_message_bytes: 64 * 1024 * 1024,
        startup_timeout_ms: 15_000,
      }),
    audit: z
      .strictObject({
        /** `full` flushes every group commit to disk (fsync); `normal` survives a process crash. */
        sync: z.enum(['full', 'normal']).default('full'),
        /** Largest bound-parameter value kept verbatim in the ledger; longer ones are truncated. */
        max_param_bytes: z.number().int().min(0).max(1_048_576).default(1024),
        max_statement_bytes: z.number().int().min(64).max(16_777_216).default(65_536),
        /** Where events are kept: the embedded SQLite file (default) or a shared PostgreSQL. */
        store: z
          .discriminatedUnion('kind', [
            z.strictObject({ kind: z.literal('sqlite') }),
            z.strictObject({ kind: z.literal('postgres'), url: secret }),
          ])
          .default({ kind: 'sqlite' }),
        /** Ed25519 key that signs checkpoints; default `<data_dir>/keys/ledger-signing-key.pem`. */
        signing_key_file: z.string().min(1).optional(),
        /** How often a checkpoint is signed when there are new events (and always at shutdown). */
        checkpoint_interval_ms: z.number().int().min(1000).max(86_400_000).default(60_000),
        /** Prune events older than this many days (keeping the tree verifiable); unset keeps all. */
        retention_days: z.number().positive().max(36_500).optional(),
        /** Forward committed events to a SIEM (syslog RFC 5424 or an HTTPS webhook / Splunk HEC). */
        sinks: z.array(sinkConfigSchema).default([]),
      })
      .default({
        sync: 'full',
        max_param_bytes: 1024,
        max_statement_bytes: 65_536,
        store: { kind: 'sqlite' },
        checkpoint_interval_ms: 60_000,
        sinks: [],
      }),
    identity: identitySchema.default({
      oidc: [],
      roles: {},
      recheck_interval_ms: 2000,
      end_sessions_at_expiry: true,
      max_agent_token_ttl_hours: 720,
    }),
    policy: z
      .strictObject({
        /** The policy file (YAML rules); unset allows every command (still recorded). */
        file: z.string().min(1).optional(),
        /** Re-read the file when it changes (and on SIGHUP); a bad new version is refused. */
        reload: z.boolean().default(true),
      })
      .default({ reload: true }),
    reviews: z
      .strictObject({
        /** Who approves `airlock access request` grants. */
        grant_approvers: z
          .array(
            z.strictObject({
              groups: z.array(z.string().min(1)).min(1),
              min: z.number().int().min(1).default(1),
            }),
          )
          .default([]),
        max_grant_hours: z.number().positive().max(720).default(8),
        /** How long a grant request waits for a decision. */
        grant_request_timeout_ms: z.number().int().positive().default(3_600_000),
        /** Estimate the rows a held DML statement would touch (EXPLAIN, never executed). */
        estimate_impact: z.boolean().default(true),
        webhooks: z.array(reviewWebhookSchema).default([]),
      })
      .default({
        grant_approvers: [],
        max_grant_hours: 8,
        grant_request_timeout_ms: 3_600_000,
        estimate_impact: true,
        webhooks: [],
      }),
    /** The web console served on the API listener (see README "Web console"). */
    console: z
      .strictObject({
        enabled: z.boolean().default(true),
        /** The URL browsers use (for the OIDC redirect); default: https://<Host header>. */
        public_url: z.url().optional(),
        /** Which `identity.oidc` issuer signs console users in (default: the first with a client_id). */
        issuer: z.string().optional(),
        /** A console session ends this long after sign-in (and at once when the user is disabled). */
        session_ttl_minutes: z.number().int().positive().max(1440).default(480),
      })
      .default({ enabled: true, session_ttl_minutes: 480 }),
    ssh: sshSchema.default(SSH_DEFAULTS),
    /** Inline masking of results (see README "Masking"); no rules: nothing is masked. */
    masking: maskingSchema.default(MASKING_DEFAULTS),
    log: z
      .strictObject({ level: z.enum(['debug', 'info', 'warn', 'error']).default('info') })
      .default({ level: 'info' }),
    /** Limits of the HTTP listener: body sizes, what the ledger keeps, the streaming hold-back. */
    http: httpSettingsSchema,
    /** Token and request limits per identity or owner per time window (LLM connections). */
    budgets: z.array(budgetSchema).default([]),
    connections: z
      .array(
        z.discriminatedUnion('type', [
          postgresConnectionSchema,
          httpConnectionSchema,
          llmConnectionSchema,
          sshConnectionSchema,
        ]),
      )
      .default([]),
  })
  .superRefine((c, ctx) => {
    for (const p of crossProblems(c)) ctx.addIssue({ code: 'custom', ...p });
  });

/** Problems across keys: duplicate names and hosts, two default LLM connections. */
function crossProblems(c: {
  connections: readonly {
    name: string;
    type: string;
    hosts?: readonly string[] | undefined;
    default?: boolean | undefined;
  }[];
  budgets: readonly { name: string }[];
}): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  const names = new Set<string>();
  const hosts = new Map<string, string>();
  let defaultLlm: string | undefined;
  c.connections.forEach((conn, i) => {
    if (names.has(conn.name)) {
      out.push({
        path: ['connections', i, 'name'],
        message: `duplicate connection "${conn.name}"`,
      });
    }
    names.add(conn.name);
    conn.hosts?.forEach((h, j) => {
      const other = hosts.get(h.toLowerCase());
      if (other !== undefined) {
        out.push({
          path: ['connections', i, 'hosts', j],
          message: `host ${h} is already routed to ${other}`,
        });
      }
      hosts.set(h.toLowerCase(), conn.name);
    });
    if (conn.default === true) {
      if (defaultLlm !== undefined) {
        out.push({
          path: ['connections', i, 'default'],
          message: `${defaultLlm} is already the default`,
        });
      }
      defaultLlm = conn.name;
    }
  });
  const budgets = new Set<string>();
  c.budgets.forEach((b, i) => {
    if (budgets.has(b.name))
      out.push({ path: ['budgets', i, 'name'], message: `duplicate budget "${b.name}"` });
    budgets.add(b.name);
  });
  return out;
}

export type AirlockConfig = z.output<typeof configSchema>;
export type PostgresConnectionConfig = z.output<typeof postgresConnectionSchema>;
export type SshConnectionConfig = z.output<typeof sshConnectionSchema>;
export type SshConfig = AirlockConfig['ssh'];
export type ConnectionConfig = AirlockConfig['connections'][number];
export type { HttpConnectionConfig, LlmConnectionConfig };
export type IdentityConfig = AirlockConfig['identity'];
