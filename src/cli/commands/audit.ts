import { SqliteLedger } from '../../audit/sqlite-ledger.ts';
import type { AuditFilter, CommandRecord } from '../../audit/types.ts';
import { config, out, parse, parseTime, str, UsageError } from '../args.ts';

export const help = `audit query [--connection C] [--identity I] [--since T] [--until T]
              [--session S] [--limit N] [--json]`;

/** `airlock audit query`: statements with their outcomes, oldest first. */
export async function run(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb !== 'query') throw new UsageError(`unknown audit command "${verb ?? ''}"`);
  const { flags } = parse(rest, {
    connection: { type: 'string' },
    identity: { type: 'string' },
    session: { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
    limit: { type: 'string' },
    json: { type: 'boolean' },
  });
  const cfg = config(flags);
  const ledger = new SqliteLedger({ dataDir: cfg.data_dir });
  try {
    const rows = await ledger.commands(filterOf(flags));
    for (const r of rows) out(flags.json ? JSON.stringify(r) : line(r));
    if (!flags.json && rows.length === 0) process.stderr.write('no statements match\n');
    return 0;
  } finally {
    await ledger.close();
  }
}

function filterOf(flags: Record<string, string | boolean | undefined>): AuditFilter {
  const limit = str(flags, 'limit');
  if (limit !== undefined && !/^\d+$/.test(limit)) throw new UsageError('--limit must be a number');
  const f: { -readonly [K in keyof AuditFilter]: AuditFilter[K] } = {};
  const set = <K extends keyof AuditFilter>(k: K, v: AuditFilter[K] | undefined): void => {
    if (v !== undefined) f[k] = v;
  };
  set('connection', str(flags, 'connection'));
  set('identity', str(flags, 'identity'));
  set('sessionId', str(flags, 'session'));
  set('since', str(flags, 'since') ? parseTime(str(flags, 'since') as string) : undefined);
  set('until', str(flags, 'until') ? parseTime(str(flags, 'until') as string) : undefined);
  set('limit', limit ? Number(limit) : 200);
  return f;
}

function line(r: CommandRecord): string {
  const who = r.actor
    ? `${r.actor.identity}${r.actor.owner ? ` (owner ${r.actor.owner})` : ''}`
    : '-';
  const text = String((r.request.command as { text?: unknown } | undefined)?.text ?? '').replace(
    /\s+/g,
    ' ',
  );
  const o = r.outcome;
  const result = o
    ? `${o.outcome}${o.error ? ` ${(o.error as { code: string }).code}` : ''} rows=${o.rows} ${o.durationMs}ms`
    : String(r.request.decision ?? 'pending');
  return `${r.ts}  ${r.connection ?? '-'}  ${who}  [${result}]  ${text.slice(0, 200)}`;
}
