/**
 * The policy file schema (YAML, snake_case, strict: an unknown key is an error). See
 * `loadPolicy` in rules.ts for the semantics.
 */
import { z } from 'zod';
import { assertSafePattern } from '../masking/detectors/safe-pattern.ts';
import { DETECTOR_TYPES } from '../masking/detectors/types.ts';
import { EXEC_FACT_NAMES } from '../shell/analyze.ts';
import { CommandPatternError, compileCommandPattern } from './commands.ts';
import { FACT_NAMES, STATEMENT_CLASSES } from './facts.ts';
import { isTimeZone, parseClock, WEEKDAYS } from './window.ts';

export const ACTIONS = ['allow', 'deny', 'review'] as const;
export type Action = (typeof ACTIONS)[number];

const DURATION_UNITS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
/** Longest review timeout a policy may ask for. */
const MAX_TIMEOUT_MS = 7 * 86_400_000;

/**
 * `90s`, `5m`, `2h`, `1d` → milliseconds.
 *
 * @example
 * parseDuration('5m'); // 300000
 */
export function parseDuration(s: string): number | undefined {
  const m = /^(\d+)(s|m|h|d)$/.exec(s.trim());
  if (m === null) return undefined;
  return Number(m[1]) * DURATION_UNITS[m[2] as keyof typeof DURATION_UNITS];
}

const duration = z.string().transform((s, ctx) => {
  const ms = parseDuration(s);
  if (ms === undefined || ms <= 0 || ms > MAX_TIMEOUT_MS) {
    ctx.addIssue({ code: 'custom', message: 'expected a duration like 90s, 5m, 2h (at most 7d)' });
    return z.NEVER;
  }
  return ms;
});

const pattern = z.string().min(1, 'expected a non-empty name or pattern');
const patterns = z.array(pattern).min(1, 'expected at least one entry');
const oneOrMany = z.union([pattern, patterns], {
  error: 'expected a pattern or a list of patterns',
});

export const approverSchema = z.strictObject({
  groups: z.array(z.string().min(1)).min(1, 'expected at least one group'),
  min: z.number().int().min(1).default(1),
});
const approvers = z.array(approverSchema).min(1, 'expected at least one approver rule');

/** What a command is: SQL, an SSH command line, shell, SFTP session or port forward. */
export const SESSION_KINDS = ['sql', 'exec', 'shell', 'sftp', 'forward'] as const;
export type SessionKind = (typeof SESSION_KINDS)[number];

const commandPattern = z.string().superRefine((s, ctx) => {
  try {
    compileCommandPattern(s);
  } catch (err) {
    if (!(err instanceof CommandPatternError)) throw err;
    ctx.addIssue({ code: 'custom', message: err.message });
  }
});

const hostPortPattern = z
  .string()
  .regex(
    /^!?[^\s:]+:[0-9*?]+$/,
    'expected host:port (globs allowed, e.g. "db.internal:5432", "*.svc:443")',
  );

const clock = z.string().refine((s) => parseClock(s) !== undefined, 'expected HH:MM (00:00-24:00)');

const windowSchema = z
  .strictObject({
    days: z.array(z.enum(WEEKDAYS)).min(1).optional(),
    from: clock.optional(),
    to: clock.optional(),
    tz: z.string().refine(isTimeZone, 'unknown time zone').default('UTC'),
    /** The rule applies outside the window instead. */
    outside: z.boolean().optional(),
  })
  .superRefine((w, ctx) => {
    if ((w.from === undefined) !== (w.to === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'from and to go together', path: ['from'] });
    } else if (w.from !== undefined && w.from === w.to) {
      ctx.addIssue({ code: 'custom', message: 'from and to must differ', path: ['to'] });
    }
  });

/** A prompt pattern: case-insensitive, and safe to run on every prompt (bounded repeats). */
const promptPattern = z.string().superRefine((p, ctx) => {
  try {
    assertSafePattern(p);
    new RegExp(p, 'iu');
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `pattern refused: ${(err as Error).message}` });
  }
});

const matchSchema = z.strictObject({
  connections: patterns.optional(),
  labels: z.record(z.string().min(1), oneOrMany).optional(),
  identity: z
    .strictObject({
      is: z.enum(['agent', 'human']).optional(),
      names: patterns.optional(),
      owners: patterns.optional(),
    })
    .optional(),
  groups: patterns.optional(),
  classes: z.array(z.enum(STATEMENT_CLASSES)).min(1).optional(),
  statements: patterns.optional(),
  facts: z
    .array(z.enum([...FACT_NAMES, ...EXEC_FACT_NAMES]))
    .min(1)
    .optional(),
  /** SSH command lines: programs with flags and words, matched on the parsed argv. */
  commands: z.array(commandPattern).min(1, 'expected at least one entry').optional(),
  /** What kind of command: `shell` to hold interactive shells, `forward` for `ssh -L`. */
  session: z
    .union([z.enum(SESSION_KINDS), z.array(z.enum(SESSION_KINDS)).min(1)])
    .transform((v) => (typeof v === 'string' ? [v] : v))
    .optional(),
  /** Port forwarding targets, `host:port` globs. */
  forwards: z.array(hostPortPattern).min(1, 'expected at least one entry').optional(),
  tables: patterns.optional(),
  access: z
    .array(z.enum(['read', 'write', 'ddl']))
    .min(1)
    .optional(),
  functions: patterns.optional(),
  has_grant: z.boolean().optional(),
  window: windowSchema.optional(),
  /** HTTP and LLM requests: methods, path globs (`*` one segment, `**` any), model globs. */
  methods: z
    .array(z.string().regex(/^[A-Za-z]+$/, 'expected an HTTP method'))
    .min(1)
    .optional(),
  paths: z.array(z.string().regex(/^!?\//, 'expected a path starting with /')).min(1).optional(),
  models: patterns.optional(),
  /** LLM prompts: detector types found in them, or patterns they match. */
  prompt: z
    .strictObject({
      contains: z.array(z.enum(DETECTOR_TYPES)).min(1).optional(),
      patterns: z.array(promptPattern).min(1).optional(),
    })
    .optional(),
});

export const ruleSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().optional(),
  match: matchSchema.default({}),
  action: z.enum(ACTIONS),
  message: z.string().min(1).optional(),
  approvers: approvers.optional(),
  timeout: duration.optional(),
});

export const policySchema = z.strictObject({
  version: z.literal(1, 'expected 1'),
  description: z.string().optional(),
  defaults: z
    .strictObject({
      action: z.enum(ACTIONS).default('allow'),
      /** Default: `review` when `approvers` are set, else `deny` (see {@link unparsableAction}). */
      unparsable: z.enum(ACTIONS).optional(),
      /** SSH command lines the shell parser cannot analyse; default: as `unparsable`. */
      unparsable_exec: z.enum(ACTIONS).optional(),
      message: z.string().min(1).optional(),
      review_timeout: duration.default(300_000),
      approvers: approvers.optional(),
      /** Schemas an unqualified table name may resolve to, for `schema.name` patterns. */
      search_path: z.array(z.string().min(1)).min(1).default(['public']),
    })
    .default({
      action: 'allow',
      review_timeout: 300_000,
      search_path: ['public'],
    }),
  rules: z.array(ruleSchema).default([]),
});

export type PolicyFile = z.output<typeof policySchema>;
export type RuleSpec = z.output<typeof ruleSchema>;
export type MatchSpec = RuleSpec['match'];
export type ApproverSpec = z.output<typeof approverSchema>;

/**
 * What SQL the parser rejects gets: as written, else `review` when there are default approvers to
 * ask, else `deny` (a review nobody may approve would only time out).
 *
 * @example
 * unparsableAction({ ...defaults, unparsable: undefined, approvers: undefined }); // 'deny'
 */
export function unparsableAction(defaults: PolicyFile['defaults']): Action {
  return defaults.unparsable ?? (defaults.approvers === undefined ? 'deny' : 'review');
}

/**
 * What SSH command lines the shell parser cannot analyse get: `unparsable_exec`, else as
 * {@link unparsableAction}.
 *
 * @example
 * unparsableExecAction({ ...defaults, unparsable_exec: 'deny' }); // 'deny'
 */
export function unparsableExecAction(defaults: PolicyFile['defaults']): Action {
  return defaults.unparsable_exec ?? unparsableAction(defaults);
}

/**
 * Cross-field problems zod cannot see, each as `key.path: reason`.
 *
 * @example
 * crossCheck(file); // ['rules[1].name: duplicate rule "a"']
 */
export function crossCheck(file: PolicyFile): string[] {
  const problems: string[] = [];
  const hasDefaultApprovers = file.defaults.approvers !== undefined;
  for (const key of ['action', 'unparsable', 'unparsable_exec'] as const) {
    if (file.defaults[key] === 'review' && !hasDefaultApprovers) {
      problems.push(`defaults.${key}: review needs defaults.approvers`);
    }
  }
  const names = new Set<string>();
  file.rules.forEach((rule, i) => {
    if (names.has(rule.name)) problems.push(`rules[${i}].name: duplicate rule "${rule.name}"`);
    names.add(rule.name);
    if (rule.action === 'review' && rule.approvers === undefined && !hasDefaultApprovers) {
      problems.push(`rules[${i}].approvers: a review rule needs approvers (or defaults.approvers)`);
    }
    for (const key of ['approvers', 'timeout'] as const) {
      if (rule.action !== 'review' && rule[key] !== undefined) {
        problems.push(`rules[${i}].${key}: only review rules take ${key}`);
      }
    }
  });
  return problems;
}

/**
 * zod issues → `rules[2].match.classes[0]: reason`.
 *
 * @example
 * formatIssues(policySchema.safeParse(raw).error?.issues ?? []);
 */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.slice(0, 20).flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((k) => `${formatPath([...issue.path, k])}: unknown key`);
    }
    return [`${formatPath(issue.path)}: ${issue.message}`];
  });
}

/**
 * @example
 * formatPath(['rules', 2, 'match']); // 'rules[2].match'
 */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out === '' ? '(root)' : out;
}
