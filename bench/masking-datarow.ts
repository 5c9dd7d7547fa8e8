/**
 * Masking cost inside the gateway, one core, no network: DataRow messages, in 64 KiB batches,
 * go through the code the relay runs (`maskDataRowInto` a `ChunkWriter`, with the column plan of
 * the session's rules and the real detector library). Reports MB/s of DataRow messages per core (CPU time) for:
 *
 * - orders: a typical result (ids, names, timestamps, amounts, UUIDs, short notes; some e-mails,
 *   cards and phones), every column scanned for every detector type: the scan throughput that the
 *   ≥ 80 MB/s per core target is about;
 * - patients (the rows `bench/masking.ts` seeds, an SSN, an e-mail and a phone in every row, so
 *   three findings to mask per row): every type in every column; the SSN and e-mail column rules
 *   (full, salted hash); the SSN column rule plus four types.
 *
 * Run directly: `node bench/masking-datarow.ts` (env BENCH_SECONDS, default 3; BENCH_SETUPS=text
 * to run the setups whose name contains it).
 */
import { parseConfig } from '../src/config/loader.ts';
import { createDetectors, DETECTOR_TYPES } from '../src/masking/detectors/index.ts';
import { detectorConfigOf, MaskingEngine } from '../src/masking/engine.ts';
import { MaskTally } from '../src/masking/tally.ts';
import { encodeDataRow } from '../src/protocols/postgres/codec/serializer.ts';
import { ChunkWriter } from '../src/protocols/postgres/masking/chunk-writer.ts';
import { maskDataRowInto } from '../src/protocols/postgres/masking/data-row.ts';
import { OID } from '../src/protocols/postgres/masking/pg-types.ts';
import { buildRowPlan, type PlanColumn } from '../src/protocols/postgres/masking/plan.ts';
import { medianRate } from './lib/rate.ts';
import { syntheticTable } from './masking-detectors.ts';

const FIRST = ['Amelia', 'Benjamin', 'Chloe', 'Daniel', 'Elena', 'Farid', 'Grace', 'Hiroshi'];
const LAST = ['Okafor', 'Lindqvist', 'Martinez', 'Chen', 'Novak', 'Haddad', 'Whitfield'];
const NOTES = [
  'Type 2 diabetes without complications; HbA1c 7.4%. Diet plan reviewed.',
  'Essential hypertension; BP 148/92 on two readings. Started ACE inhibitor.',
  'Acute upper respiratory infection; afebrile, lungs clear. Supportive care.',
  'Low back pain after lifting; no red flags. Physical therapy referral.',
];
const COLUMNS: readonly [string, number][] = [
  ['id', OID.int4],
  ['first_name', OID.text],
  ['last_name', OID.text],
  ['ssn', OID.text],
  ['email', OID.text],
  ['phone', OID.text],
  ['notes', OID.text],
  ['date_of_birth', OID.date],
];

const pad = (n: number, w: number) => String(n).padStart(w, '0');

/** Text-format values of row `i`, as PostgreSQL sends `SELECT * FROM people`. */
function row(i: number): string[] {
  const dob = new Date(Date.UTC(1940, 0, 1) + ((i * 7) % 25000) * 86_400_000);
  return [
    String(i),
    FIRST[i % 8] as string,
    LAST[i % 7] as string,
    `${pad(100 + ((i * 37) % 560), 3)}-${pad(10 + ((i * 13) % 89), 2)}-${pad(1000 + ((i * 379) % 8999), 4)}`,
    `patient${i}@example.com`,
    `(617) 555-01${pad(i % 100, 2)}`,
    NOTES[i % 4] as string,
    dob.toISOString().slice(0, 10),
  ];
}

function engineFor(rules: string): MaskingEngine {
  const yaml = `masking:\n  salt: bench-masking-salt-0123456789abcdef\n  rules:\n${rules}`;
  const config = parseConfig(yaml, 'bench', {});
  return new MaskingEngine(config.masking, createDetectors(detectorConfigOf(config.masking)));
}

const SETUPS: Record<string, string> = {
  scan: `    - { name: everything, types: [${DETECTOR_TYPES.join(', ')}] }\n`,
  columns: `    - { name: ssn, columns: ['people.ssn'] }
    - { name: email, columns: ['people.email'], style: hash }\n`,
  types: `    - { name: ssn, columns: ['people.ssn'] }
    - { name: contact, types: [email, phone, us_ssn, credit_card] }\n`,
};

export interface DataRowBenchResult {
  /** MB/s of DataRow messages per setup, one core (median of one-second windows of CPU time). */
  readonly mbPerSec: Record<string, number>;
  /** Microseconds per row per setup. */
  readonly usPerRow: Record<string, number>;
}

interface Table {
  readonly frames: Uint8Array[];
  readonly columns: PlanColumn[];
}

function patientsTable(rows: number): Table {
  const frames = Array.from({ length: rows }, (_, i) =>
    encodeDataRow(row(i + 1).map((v) => Buffer.from(v, 'utf8'))),
  );
  const columns = COLUMNS.map(([column, typeOid]) => planColumn('people', column, typeOid));
  return { frames, columns };
}

/** The detector bench's orders/customers rows: mostly values with nothing to find. */
function ordersTable(rows: number): Table {
  const cells = syntheticTable(rows);
  const frames = cells.map((r) => encodeDataRow(r.map(([, v]) => Buffer.from(v, 'utf8'))));
  const columns = (cells[0] ?? []).map(([column]) => planColumn('orders', column, OID.text));
  return { frames, columns };
}

function planColumn(table: string, column: string, typeOid: number): PlanColumn {
  return { name: { schema: 'public', table, column }, fieldName: column, typeOid, format: 0 };
}

/** Frames joined into 64 KiB batches (a socket read's worth), with each frame's end offset. */
function batchesOf(frames: readonly Uint8Array[]): { buf: Buffer; ends: number[] }[] {
  const out: { buf: Buffer; ends: number[] }[] = [];
  let group: Uint8Array[] = [];
  let size = 0;
  const flush = () => {
    let end = 0;
    const ends = group.map((f) => (end += f.length));
    out.push({ buf: Buffer.concat(group), ends });
    group = [];
    size = 0;
  };
  for (const f of frames) {
    if (size + f.length > 65_536 && group.length > 0) flush();
    group.push(f);
    size += f.length;
  }
  if (group.length > 0) flush();
  return out;
}

/** setup name → [table, rules] */
const RUNS: Record<string, readonly [string, string]> = {
  'orders: every type in every column': ['orders', SETUPS.scan as string],
  'patients: every type in every column': ['patients', SETUPS.scan as string],
  'patients: ssn full + email hash columns': ['patients', SETUPS.columns as string],
  'patients: ssn column + 4 types': ['patients', SETUPS.types as string],
};

export function runDataRowBench(
  seconds = Number(process.env.BENCH_SECONDS ?? 3),
  rows = 20_000,
): DataRowBenchResult {
  const tables: Record<string, Table> = {
    orders: ordersTable(rows),
    patients: patientsTable(rows),
  };
  const mbPerSec: Record<string, number> = {};
  const usPerRow: Record<string, number> = {};
  const only = process.env.BENCH_SETUPS;
  for (const [name, [tableName, rules]] of Object.entries(RUNS)) {
    if (only && !name.includes(only)) continue;
    const { frames, columns } = tables[tableName] as Table;
    const bytes = frames.reduce((n, f) => n + f.length, 0);
    const engine = engineFor(rules);
    const session = engine.forSession('bench', []);
    const plan = session && buildRowPlan(columns, session);
    if (!plan) throw new Error(`${name}: no plan`);
    const ctx = { values: engine.values, tally: new MaskTally() };
    const batches = batchesOf(frames);
    const writer = new ChunkWriter();
    let changed = 0;
    // As the relay does: each batch's output built in one buffer, masked rows written into it.
    const pass = () => {
      for (const { buf, ends } of batches) {
        writer.begin(buf, 0);
        let start = 0;
        for (const end of ends) {
          if (maskDataRowInto(buf, start, end, plan, ctx, writer)) changed++;
          start = end;
        }
        writer.finish(buf.length);
      }
    };
    const rate = medianRate(bytes, seconds, pass);
    if (changed === 0) throw new Error(`${name}: nothing was masked`);
    mbPerSec[name] = rate;
    usPerRow[name] = (bytes / frames.length / (rate * 1e6)) * 1e6;
  }
  return { mbPerSec, usPerRow };
}

if (import.meta.main) {
  const r = runDataRowBench();
  for (const name of Object.keys(r.mbPerSec)) {
    process.stdout.write(
      `${name.padEnd(42)} ${r.mbPerSec[name]?.toFixed(1).padStart(7)} MB/s  ${r.usPerRow[name]?.toFixed(2)} µs/row\n`,
    );
  }
}
