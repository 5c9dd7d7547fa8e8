import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadOrCreateSigningKey, loadPublicKey } from '../../audit/checkpoint.ts';
import { exportLedger, verifyExport } from '../../audit/export.ts';
import { parseAuditFilter } from '../../audit/filter-params.ts';
import {
  localPublicKey,
  openLedger,
  openReader,
  signingKeyFile,
  verifyStore,
} from '../../audit/open.ts';
import { reviewOutcomeText } from '../../audit/review-outcome.ts';
import type { LedgerReader } from '../../audit/store.ts';
import type { AuditEvent, AuditFilter, CommandRecord } from '../../audit/types.ts';
import type { VerifyResult } from '../../audit/verify.ts';
import type { AirlockConfig } from '../../config/schema.ts';
import { play, RecordingAltered, readVerified } from '../../recording/replay.ts';
import { isEventId } from '../../session/caused-by.ts';
import {
  config,
  type Flags,
  out,
  parse,
  parseDuration,
  parseTime,
  str,
  UsageError,
} from '../args.ts';
import { causedByChain, commandSummary } from './audit-chain.ts';

export const help = `audit query [--connection C] [--identity I] [--owner O] [--session S]
              [--type T[,T]] [--decision D] [--table T [--access read|write|ddl]]
              [--since T] [--until T] [--limit N] [--json]
  audit query --caused-by EVENT_ID [--json]     # an LLM call and what it caused
  audit show-session ID [--json]
  audit replay SESSION [--speed 2] [--max-idle 2s] [--raw|--no-timing] [--channel N]
  audit verify [--from-export FILE] [--pubkey FILE]
  audit export --format jsonl|ocsf --out FILE [--since T] [--until T]
  audit pubkey
  audit prune --older-than 90d`;

const VERBS: Record<string, (argv: string[]) => Promise<number>> = {
  query,
  'show-session': showSession,
  replay,
  verify,
  export: exportCmd,
  pubkey,
  prune,
};

/** `airlock audit <verb>`: read, verify, export and prune the ledger. */
export async function run(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  const fn = VERBS[verb ?? ''];
  if (fn === undefined) throw new UsageError(`unknown audit command "${verb ?? ''}"`);
  return fn(rest);
}

async function withReader<T>(
  cfg: AirlockConfig,
  body: (r: LedgerReader) => Promise<T>,
): Promise<T> {
  const reader = await openReader(cfg.audit, cfg.data_dir);
  try {
    return await body(reader);
  } finally {
    await reader.close();
  }
}

const FILTER_FLAGS = {
  connection: { type: 'string' },
  identity: { type: 'string' },
  owner: { type: 'string' },
  session: { type: 'string' },
  'caused-by': { type: 'string' },
  type: { type: 'string' },
  decision: { type: 'string' },
  table: { type: 'string' },
  access: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  limit: { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** Statements with outcome and approval, or with `--type` the matching events; oldest first. */
async function query(argv: string[]): Promise<number> {
  const { flags } = parse(argv, FILTER_FLAGS);
  const causedBy = str(flags, 'caused-by');
  if (causedBy !== undefined) {
    if (!isEventId(causedBy)) throw new UsageError('--caused-by needs an event id like c_0194…');
    return withReader(config(flags), (reader) =>
      causedByChain(reader, causedBy, flags.json === true),
    );
  }
  const filter = filterOf(flags);
  return withReader(config(flags), async (reader) => {
    if (filter.types !== undefined) {
      const events = await reader.query(filter);
      for (const e of events) out(flags.json ? JSON.stringify(eventJson(e)) : eventLine(e));
      if (!flags.json && events.length === 0) process.stderr.write('no events match\n');
      return 0;
    }
    const rows = await reader.commands(filter);
    for (const r of rows) out(flags.json ? JSON.stringify(r) : commandLine(r));
    if (!flags.json && rows.length === 0) process.stderr.write('no statements match\n');
    return 0;
  });
}

/** One session end to end: who, from where, every statement, decision and outcome. */
async function showSession(argv: string[]): Promise<number> {
  const { flags, positionals } = parse(argv, { json: { type: 'boolean' } });
  const id = positionals[0];
  if (id === undefined) throw new UsageError('audit show-session needs a session id');
  return withReader(config(flags), async (reader) => {
    const events = await reader.query({ sessionId: id });
    if (events.length === 0) {
      process.stderr.write(`no events for session ${id}\n`);
      return 1;
    }
    for (const e of events) out(flags.json ? JSON.stringify(eventJson(e)) : eventLine(e));
    return 0;
  });
}

/**
 * Plays a session's terminal recordings (asciicast v2), each checked against the SHA-256 the
 * ledger recorded for it: a file that was altered is refused.
 */
async function replay(argv: string[]): Promise<number> {
  const { flags, positionals } = parse(argv, {
    speed: { type: 'string' },
    'max-idle': { type: 'string' },
    raw: { type: 'boolean' },
    'no-timing': { type: 'boolean' },
    channel: { type: 'string' },
  });
  const id = positionals[0];
  if (id === undefined) throw new UsageError('audit replay needs a session id');
  const speed = Number(str(flags, 'speed') ?? '1');
  if (!(speed > 0 && speed <= 1000)) throw new UsageError('--speed must be a number above 0');
  const idle = str(flags, 'max-idle');
  const maxIdleMs =
    idle === undefined ? undefined : parseDuration(/^\d+$/.test(idle) ? `${idle}s` : idle);
  const cfg = config(flags);
  const recordings = await withReader(cfg, (r) =>
    r.query({ sessionId: id, types: ['session.recorded'] }),
  );
  const channel = str(flags, 'channel');
  const chosen = recordings.filter(
    (e) => channel === undefined || String(e.data.channel) === channel,
  );
  if (chosen.length === 0) {
    process.stderr.write(
      `no recordings for session ${id}${channel === undefined ? '' : ` channel ${channel}`}\n`,
    );
    return 1;
  }
  const raw = flags.raw === true || flags['no-timing'] === true;
  for (const e of chosen) {
    let text: string;
    try {
      text = await readVerified(
        join(cfg.data_dir, 'recordings'),
        String(e.data.file),
        String(e.data.sha256),
      );
    } catch (err) {
      if (!(err instanceof RecordingAltered)) throw err;
      process.stderr.write(`airlock: ${(err as Error).message}\n`);
      return 1;
    }
    process.stderr.write(
      `# ${e.ts} channel ${String(e.data.channel)} (${String(e.data.durationMs)} ms, sha256 verified)\n`,
    );
    await play(text, {
      speed,
      maxIdleMs,
      raw,
      write: (s) => process.stdout.write(s),
      sleep: (ms) => sleep(ms),
    });
  }
  return 0;
}

async function verify(argv: string[]): Promise<number> {
  const { flags } = parse(argv, { 'from-export': { type: 'string' }, pubkey: { type: 'string' } });
  const file = str(flags, 'from-export');
  const pubkeyFile = str(flags, 'pubkey');
  let result: VerifyResult;
  if (file !== undefined) {
    const keys = pubkeyFile ? [readPublicKey(pubkeyFile)] : [localKey(config(flags))];
    result = await verifyExport(file, keys);
  } else {
    const cfg = config(flags);
    const keys = pubkeyFile ? [readPublicKey(pubkeyFile)] : [localKey(cfg)];
    result = await verifyStore(cfg.audit, cfg.data_dir, keys);
  }
  if (result.ok) {
    out(
      `ok: ${result.events} events, ${result.checkpoints} signed checkpoints, tree size ${result.treeSize}, root ${result.rootHash}`,
    );
    return 0;
  }
  out(`FAILED at seq ${result.seq}: ${result.problem}: ${result.reason}`);
  return 1;
}

function readPublicKey(file: string): KeyObject {
  try {
    return loadPublicKey(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`--pubkey ${file}: ${(err as Error).message}`);
  }
}

/** The public half of the local signing key (never creates one). */
function localKey(cfg: AirlockConfig): KeyObject {
  const key = localPublicKey(cfg.audit, cfg.data_dir);
  if (key === undefined) {
    throw new UsageError(
      `no signing key at ${signingKeyFile(cfg.audit, cfg.data_dir)}; pass --pubkey FILE`,
    );
  }
  return key;
}

async function exportCmd(argv: string[]): Promise<number> {
  const { flags } = parse(argv, {
    format: { type: 'string' },
    out: { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
  });
  const format = str(flags, 'format') ?? 'jsonl';
  if (format !== 'jsonl' && format !== 'ocsf')
    throw new UsageError('--format must be jsonl or ocsf');
  const file = str(flags, 'out');
  if (file === undefined) throw new UsageError('--out FILE is required');
  const cfg = config(flags);
  const key = loadOrCreateSigningKey(signingKeyFile(cfg.audit, cfg.data_dir));
  const since = str(flags, 'since');
  const until = str(flags, 'until');
  const { events, header } = await withReader(cfg, (reader) =>
    exportLedger({
      reader,
      format,
      out: file,
      since: since === undefined ? undefined : parseTime(since),
      until: until === undefined ? undefined : parseTime(until),
      publicKeyPem: key.publicKeyPem,
      checkpoint: () => withLedger(cfg, async (l) => void (await l.checkpoint())),
    }),
  );
  process.stderr.write(
    `exported ${events} events (seq ${header.from}..${header.to}) with ${header.checkpoints.length} signed checkpoints to ${file}\n`,
  );
  return 0;
}

async function withLedger<T>(
  cfg: AirlockConfig,
  body: (l: Awaited<ReturnType<typeof openLedger>>) => Promise<T>,
): Promise<T> {
  const ledger = await openLedger({
    audit: cfg.audit,
    dataDir: cfg.data_dir,
    checkpointIntervalMs: 0,
  });
  try {
    return await body(ledger);
  } finally {
    await ledger.close();
  }
}

async function pubkey(argv: string[]): Promise<number> {
  const { flags } = parse(argv, {});
  const cfg = config(flags);
  process.stdout.write(
    loadOrCreateSigningKey(signingKeyFile(cfg.audit, cfg.data_dir)).publicKeyPem,
  );
  return 0;
}

async function prune(argv: string[]): Promise<number> {
  const { flags } = parse(argv, { 'older-than': { type: 'string' } });
  const age = str(flags, 'older-than');
  if (age === undefined) throw new UsageError('--older-than DURATION is required, e.g. 90d');
  const cfg = config(flags);
  const through = await withLedger(cfg, (l) => l.prune(Date.now() - parseDuration(age)));
  process.stderr.write(through === 0 ? 'nothing to prune\n' : `pruned events 1..${through}\n`);
  return 0;
}

function filterOf(flags: Flags): AuditFilter {
  return parseAuditFilter({
    get: (name) => str(flags, name),
    time: (v) => parseTime(v),
    invalid: (message) => new UsageError(message),
    label: (name) => `--${name}`,
    listTypes: true,
  });
}

function eventJson(e: AuditEvent): Omit<AuditEvent, 'body'> {
  const { body: _b, ...rest } = e;
  return rest;
}

function who(actor: AuditEvent['actor']): string {
  return actor ? `${actor.identity}${actor.owner ? ` (owner ${actor.owner})` : ''}` : '-';
}

function eventLine(e: AuditEvent): string {
  const d = e.data;
  const detail =
    e.type === 'command.requested' || e.type === 'llm.requested'
      ? `[${String(d.decision ?? '')}] ${commandSummary(d)}`
      : e.type === 'command.completed'
        ? `${String(d.outcome)}${d.error ? ` ${(d.error as { code: string }).code}` : ''} ${resultSize(d)} ${String(d.durationMs)}ms`
        : JSON.stringify(d).slice(0, 200);
  return `${e.seq}  ${e.ts}  ${e.type}  ${e.connection ?? '-'}  ${who(e.actor)}  ${e.clientAddr ?? ''}  ${detail}`;
}

/** `rows=N` for SQL; `status=N` for HTTP; `exit=N bytes=N` for SSH commands. */
function resultSize(d: Readonly<Record<string, unknown>>): string {
  if (d.status !== undefined) return `status=${String(d.status)}`;
  if (d.exitStatus !== undefined) return `exit=${String(d.exitStatus)} bytes=${String(d.bytes)}`;
  if (d.exitSignal !== undefined) return `signal=${String(d.exitSignal)} bytes=${String(d.bytes)}`;
  if (d.rows === undefined) return `bytes=${String(d.bytes)}`;
  return `rows=${String(d.rows)}`;
}

function commandLine(r: CommandRecord): string {
  const o = r.outcome;
  const result = o
    ? `${o.outcome}${o.error ? ` ${(o.error as { code: string }).code}` : ''} ${resultSize(o)} ${o.durationMs}ms`
    : 'pending';
  const approval = r.approval
    ? ` ${reviewOutcomeText(r.approval.type === 'command.approved', r.approval.data)}`
    : '';
  return `${r.ts}  ${r.connection ?? '-'}  ${who(r.actor)}  session=${r.sessionId ?? '-'}  [${String(r.request.decision ?? '')}${approval}] [${result}]  ${commandSummary(r.request)}`;
}
