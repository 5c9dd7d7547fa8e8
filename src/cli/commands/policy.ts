import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { formatDecision, formatExplanation } from '../../policy/explain.ts';
import { commandOf, FixtureError, parseFixtures, runFixtures } from '../../policy/fixtures.ts';
import type { PolicyInput } from '../../policy/policy.ts';
import { type CompiledPolicy, loadPolicyFile, PolicyError } from '../../policy/rules.ts';
import { initSqlParser } from '../../sql/analyze.ts';
import { config, type Flags, out, parse, parseTime, str, UsageError } from '../args.ts';

export const help = `policy check [--policy FILE]
  policy test FIXTURES [--policy FILE]   (exit 0 all pass, 1 a case fails, 2 a bad file)
  policy explain [--policy FILE] --sql SQL | --exec CMD | --session shell|sftp | --forward HOST:PORT
      [--connection C] [--label k=v ...]
      [--identity-kind token|oidc] [--name N] [--owner O] [--groups a,b] [--has-grant]
      [--phase parse|execute] [--at TIME] [--json]`;

/** `airlock policy check|test|explain`. `--policy` defaults to `policy.file` of the config. */
export async function run(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  try {
    if (verb === 'check') return check(rest);
    if (verb === 'test') return await test(rest);
    if (verb === 'explain') return await explain(rest);
  } catch (err) {
    if (err instanceof PolicyError) return badFile(`policy ${err.source}`, err.problems);
    if (err instanceof FixtureError) return badFile(`fixture file ${err.source}`, err.problems);
    throw err;
  }
  throw new UsageError(`unknown policy command "${verb ?? ''}"`);
}

function badFile(what: string, problems: readonly string[]): number {
  process.stderr.write(`airlock: invalid ${what}:\n  ${problems.join('\n  ')}\n`);
  return 2;
}

function check(argv: string[]): number {
  const { flags } = parse(argv, { policy: { type: 'string' } });
  const policy = loadPolicyFile(policyPath(flags));
  out(`ok ${policy.source}: ${policy.ruleNames.length} rules, sha256:${policy.hash}`);
  return 0;
}

async function test(argv: string[]): Promise<number> {
  const { flags, positionals } = parse(argv, { policy: { type: 'string' } });
  const file = positionals[0];
  if (file === undefined) throw new UsageError('policy test needs a fixture file');
  const fixtures = parseFixtures(readText(file), file);
  const fromFixture = fixtures.policy && resolve(dirname(file), fixtures.policy);
  const policy = loadPolicyFile(str(flags, 'policy') ?? fromFixture ?? policyPath(flags));
  await initSqlParser();
  return report(policy, runFixtures(policy, fixtures));
}

function report(policy: CompiledPolicy, results: ReturnType<typeof runFixtures>): number {
  let failed = 0;
  for (const r of results) {
    if (r.ok) {
      out(`ok    ${r.name}`);
      continue;
    }
    failed += 1;
    const want =
      r.expectedRule === undefined ? r.expected : `${r.expected} (rule ${r.expectedRule})`;
    out(`FAIL  ${r.name}: expected ${want}, got ${formatDecision(r.actual)}`);
  }
  out(`${results.length - failed} passed, ${failed} failed (policy ${policy.source})`);
  return failed === 0 ? 0 : 1;
}

async function explain(argv: string[]): Promise<number> {
  const flags = explainFlags(argv);
  const policy = loadPolicyFile(policyPath(flags));
  const given = ['sql', 'exec', 'session', 'forward'].filter((k) => str(flags, k) !== undefined);
  if (given.length !== 1) throw new UsageError('give one of --sql, --exec, --session, --forward');
  const session = str(flags, 'session');
  if (session !== undefined && session !== 'shell' && session !== 'sftp') {
    throw new UsageError('--session: shell or sftp');
  }
  const forward = str(flags, 'forward');
  if (forward !== undefined && !/^[^\s:]+:\d{1,5}$/.test(forward))
    throw new UsageError('--forward: HOST:PORT');
  await initSqlParser();
  const spec = {
    sql: str(flags, 'sql'),
    exec: str(flags, 'exec'),
    session: session as 'shell' | 'sftp' | undefined,
    forward,
  };
  const explanation = policy.explain(explainInput(flags, spec));
  if (flags.json === true) out(JSON.stringify(explanation, null, 2));
  else process.stdout.write(formatExplanation(explanation));
  return 0;
}

type ExplainFlags = Flags & { label?: string[] };

function explainFlags(argv: string[]): ExplainFlags {
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string' },
        policy: { type: 'string' },
        sql: { type: 'string' },
        exec: { type: 'string' },
        session: { type: 'string' },
        forward: { type: 'string' },
        connection: { type: 'string' },
        label: { type: 'string', multiple: true },
        'identity-kind': { type: 'string' },
        name: { type: 'string' },
        owner: { type: 'string' },
        groups: { type: 'string' },
        'has-grant': { type: 'boolean' },
        phase: { type: 'string' },
        at: { type: 'string' },
        json: { type: 'boolean' },
      },
      strict: true,
    });
    return values as ExplainFlags;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function explainInput(flags: ExplainFlags, spec: Parameters<typeof commandOf>[0]): PolicyInput {
  const kind = str(flags, 'identity-kind') ?? 'token';
  if (kind !== 'token' && kind !== 'oidc') throw new UsageError('--identity-kind: token or oidc');
  const phase = str(flags, 'phase') ?? 'execute';
  if (phase !== 'parse' && phase !== 'execute') throw new UsageError('--phase: parse or execute');
  const at = str(flags, 'at');
  return {
    identity: {
      kind,
      name: str(flags, 'name') ?? 'agent',
      owner: str(flags, 'owner') ?? 'unknown',
      groups: splitList(str(flags, 'groups')),
      roles: [],
    },
    connection: str(flags, 'connection') ?? 'default',
    connectionLabels: labels(flags.label ?? []),
    ...commandOf(spec),
    phase,
    hasGrant: flags['has-grant'] === true,
    now: at === undefined ? Date.now() : parseTime(at),
  };
}

function labels(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--label ${pair}: expected key=value`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

const splitList = (s: string | undefined): string[] =>
  (s ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/** `--policy`, else `policy.file` of the airlock config. */
function policyPath(flags: Flags): string {
  const flag = str(flags, 'policy');
  if (flag !== undefined) return flag;
  let file: string | undefined;
  try {
    file = (config(flags) as { policy?: { file?: string } }).policy?.file;
  } catch {
    file = undefined;
  }
  if (file === undefined) throw new UsageError('--policy is required (no policy.file in config)');
  return file;
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new FixtureError(file, [
      `cannot read file: ${(err as NodeJS.ErrnoException).code ?? err}`,
    ]);
  }
}
