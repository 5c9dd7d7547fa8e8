/**
 * Policy fixtures: a YAML file of cases (SQL statements, SSH command lines, shells, SFTP
 * sessions, port forwards) with the decision each must get, run by `airlock policy test`.
 * Cases build the same `PolicyInput` the gateway builds.
 */
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { Identity } from '../identity/types.ts';
import { createDetectors } from '../masking/detectors/index.ts';
import type { DetectorSet } from '../masking/detectors/types.ts';
import type { Command, HttpCommand, SqlCommand } from '../session/command.ts';
import { analyzeShell } from '../shell/analyze.ts';
import { analyzeSql } from '../sql/analyze.ts';
import type { Decision, PolicyInput } from './policy.ts';
import type { CompiledPolicy } from './rules.ts';
import { ACTIONS, type Action, formatIssues } from './schema.ts';

const identitySchema = z.strictObject({
  kind: z.enum(['token', 'oidc']).default('token'),
  name: z.string().min(1).default('agent'),
  owner: z.string().min(1).default('owner@example.com'),
  groups: z.array(z.string().min(1)).default([]),
});

const at = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'expected an ISO 8601 time');

/** What a case may leave to the file's `defaults`. */
const contextFields = {
  connection: z.string().min(1).optional(),
  labels: z.record(z.string(), z.string()).optional(),
  identity: identitySchema.optional(),
  has_grant: z.boolean().optional(),
  at: at.optional(),
};

/** An HTTP request or LLM call (`model` and `prompt` make it an LLM call). */
const httpCaseSchema = z.strictObject({
  method: z
    .string()
    .regex(/^[A-Za-z]+$/)
    .default('POST'),
  path: z.string().startsWith('/'),
  model: z.string().min(1).optional(),
  prompt: z.string().optional(),
});
const COMMAND_KEYS = ['sql', 'http', 'exec', 'session', 'forward'] as const;

const caseSchema = z
  .strictObject({
    name: z.string().min(1),
    /** A SQL statement (PostgreSQL). */
    sql: z.string().optional(),
    /** A request through an http or llm connection. */
    http: httpCaseSchema.optional(),
    /** An SSH command line (`ssh host '<exec>'`). */
    exec: z.string().optional(),
    /** An interactive SSH shell or an SFTP session. */
    session: z.enum(['shell', 'sftp']).optional(),
    /** An SSH port forward, `host:port`. */
    forward: z
      .string()
      .regex(/^[^\s:]+:\d{1,5}$/, 'expected host:port')
      .optional(),
    ...contextFields,
    params: z.array(z.string().nullable()).optional(),
    phase: z.enum(['parse', 'execute']).optional(),
    expect: z.enum(ACTIONS),
    expect_rule: z.string().min(1).optional(),
  })
  .superRefine((c, ctx) => {
    const given = COMMAND_KEYS.filter((k) => c[k] !== undefined);
    if (given.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: `expected exactly one of ${COMMAND_KEYS.join(', ')}`,
      });
    }
  });

export const fixtureSchema = z.strictObject({
  /** The policy file, relative to the fixture file. */
  policy: z.string().min(1).optional(),
  defaults: z.strictObject(contextFields).optional(),
  cases: z.array(caseSchema).min(1, 'expected at least one case'),
});

export type FixtureFile = z.output<typeof fixtureSchema>;
export type FixtureCase = FixtureFile['cases'][number];

export interface CaseResult {
  readonly name: string;
  readonly ok: boolean;
  readonly expected: Action;
  readonly expectedRule: string | undefined;
  readonly actual: Decision;
}

/** A fixture file that does not load; `problems` are `key.path: reason` lines. */
export class FixtureError extends Error {
  readonly source: string;
  readonly problems: readonly string[];

  constructor(source: string, problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'FixtureError';
    this.source = source;
    this.problems = problems;
  }
}

/**
 * @example
 * const fixtures = parseFixtures(readFileSync('policy-tests.yaml', 'utf8'), 'policy-tests.yaml');
 */
export function parseFixtures(text: string, source: string): FixtureFile {
  let raw: unknown;
  try {
    raw = parseYaml(text, { strict: true, maxAliasCount: 100 });
  } catch (err) {
    throw new FixtureError(source, [`YAML: ${(err as Error).message.split('\n')[0]}`]);
  }
  const parsed = fixtureSchema.safeParse(raw ?? {});
  if (!parsed.success) throw new FixtureError(source, formatIssues(parsed.error.issues));
  return parsed.data;
}

/**
 * Runs every case against `policy`. The SQL parser must be loaded (`await initSqlParser()`).
 *
 * @example
 * for (const r of runFixtures(policy, fixtures)) console.log(r.ok ? 'ok' : 'FAIL', r.name);
 */
export function runFixtures(policy: CompiledPolicy, fixtures: FixtureFile): CaseResult[] {
  return fixtures.cases.map((c) => {
    const actual = policy.decide(caseInput(c, fixtures.defaults));
    const ruleOk = c.expect_rule === undefined || actual.rule === c.expect_rule;
    return {
      name: c.name,
      ok: actual.action === c.expect && ruleOk,
      expected: c.expect,
      expectedRule: c.expect_rule,
      actual,
    };
  });
}

/**
 * The policy input a case stands for.
 *
 * @example
 * policy.decide(caseInput(fixtures.cases[0], fixtures.defaults));
 */
export function caseInput(c: FixtureCase, defaults: FixtureFile['defaults'] = {}): PolicyInput {
  const labels = c.labels ?? defaults.labels;
  const time = c.at ?? defaults.at;
  return {
    identity: caseIdentity(c.identity ?? defaults.identity),
    connection: c.connection ?? defaults.connection ?? 'default',
    ...(labels === undefined ? {} : { connectionLabels: labels }),
    ...commandOf(c),
    phase: c.phase ?? 'execute',
    hasGrant: c.has_grant ?? defaults.has_grant ?? false,
    now: time === undefined ? Date.now() : Date.parse(time),
  };
}

/** What a case (or `policy explain`) names: one of sql, http, exec, session, forward. */
export interface CommandSpec {
  readonly sql?: string | undefined;
  readonly http?: z.output<typeof httpCaseSchema> | undefined;
  readonly params?: readonly (string | null)[] | undefined;
  readonly exec?: string | undefined;
  readonly session?: 'shell' | 'sftp' | undefined;
  readonly forward?: string | undefined;
}

/**
 * The command and its analysis, as the gateway builds them.
 *
 * @example
 * commandOf({ exec: 'sudo rm -rf /' }); // { command: { kind: 'exec', ... }, shell: { ok: true, ... } }
 */
export function commandOf(c: CommandSpec): { command: Command } & Partial<PolicyInput> {
  if (c.sql !== undefined)
    return { command: sqlCommand(c.sql, c.params), analysis: analyzeSql(c.sql) };
  if (c.http !== undefined) return { command: httpCaseCommand(c.http) };
  if (c.exec !== undefined) {
    return { command: { kind: 'exec', text: c.exec, channel: 0 }, shell: analyzeShell(c.exec) };
  }
  if (c.session !== undefined) {
    const text = c.session === 'shell' ? 'interactive shell' : 'sftp';
    return { command: { kind: c.session, text, channel: 0 } };
  }
  const target = c.forward ?? '';
  const at = target.lastIndexOf(':');
  const host = target.slice(0, at);
  const port = Number(target.slice(at + 1));
  return { command: { kind: 'forward', text: `forward to ${target}`, host, port } };
}

let detectors: DetectorSet | undefined;

/**
 * The command an `http:` case stands for; the prompt is scanned with the default detectors.
 *
 * @example
 * httpCaseCommand({ method: 'POST', path: '/chat/completions', model: 'gpt-4o', prompt: 'hi' });
 */
export function httpCaseCommand(h: z.output<typeof httpCaseSchema>): HttpCommand {
  const method = h.method.toUpperCase();
  const llm = h.model !== undefined || h.prompt !== undefined;
  detectors ??= createDetectors();
  const prompt = h.prompt ?? '';
  return {
    kind: 'http',
    method,
    url: h.path,
    path: h.path.split('?')[0] as string,
    host: 'fixture',
    text: `${method} ${h.path}`,
    params: null,
    paramsDigest: '',
    bodyBytes: prompt.length,
    ...(llm
      ? {
          llm: {
            dialect: 'openai',
            operation: 'chat',
            model: h.model ?? '',
            stream: false,
            prompt,
            findings: [...new Set(detectors.scan(prompt).map((f) => f.type))],
            reserveTokens: 0,
            record: {},
          },
        }
      : {}),
  };
}

function caseIdentity(spec: z.output<typeof identitySchema> | undefined): Identity {
  const s = spec ?? identitySchema.parse({});
  return { kind: s.kind, name: s.name, owner: s.owner, groups: s.groups, roles: [] };
}

/**
 * A simple Query, or an extended-protocol Execute with text parameters.
 *
 * @example
 * sqlCommand('SELECT $1', ['42']); // { kind: 'sql', protocol: 'extended', params: [...] }
 */
export function sqlCommand(text: string, params?: readonly (string | null)[]): SqlCommand {
  if (params === undefined) return { kind: 'sql', text, params: null, protocol: 'simple' };
  return {
    kind: 'sql',
    text,
    protocol: 'extended',
    params: params.map((value) => ({
      format: 'text',
      value,
      bytes: value === null ? 0 : Buffer.byteLength(value),
    })),
  };
}
