/**
 * Detector throughput and accuracy. `runDetectorBench()` scans a synthetic result table (ids,
 * names, timestamps, amounts, short notes, some emails, cards and phones), one value at a time
 * with its column name as the hint, as the masking engine does, and reports single-core MB/s
 * (UTF-8 bytes of values scanned per second), plus per-type precision and recall on the labelled
 * corpus in test/fixtures/masking/corpus.jsonl.
 *
 * Run directly: `node bench/masking-detectors.ts` (env BENCH_SECONDS, default 3).
 */
import { Buffer } from 'node:buffer';
import { createDetectors } from '../src/masking/detectors/index.ts';
import {
  CORPUS_DETECTOR_CONFIG,
  evaluateCorpus,
  formatTable,
  loadCorpus,
  type TypeScore,
} from '../src/masking/detectors/testing/corpus.ts';
import type { DetectorType } from '../src/masking/detectors/types.ts';
import { medianRate } from './lib/rate.ts';

const FIRST = [
  'Olivia',
  'Liam',
  'Amelia',
  'Noah',
  'Sofía',
  'Mateo',
  'Chloé',
  'Yuki',
  'Aarav',
  'Zoe',
];
const LAST = ['Smith', 'García', 'Nguyen', 'Müller', 'Okafor', 'Rossi', 'Kowalski', 'Tanaka'];
const CITY = ['San Francisco', 'Berlin', 'Lagos', 'São Paulo', 'Osaka', 'Toronto', 'Lyon'];
const STATUS = ['pending', 'shipped', 'delivered', 'cancelled', 'refunded'];
const NOTES = [
  'Customer asked to leave the parcel at the back door.',
  'Follow-up scheduled after the quarterly review; no action needed.',
  'Refund approved by support, see ticket 48213.',
  'Prefers contact by email in the morning.',
  'Item arrived damaged, replacement sent 2024-03-02.',
  'VIP',
  '',
  'Discount code SPRING24 applied at checkout (15% off orders above $120.00).',
  'Allergies: none reported. Next appointment in 6 weeks.',
];
const SENSITIVE_NOTES = [
  'Paid with card 4111 1111 1111 1111, exp 09/27.',
  'Call back on (415) 555-0132 after 5pm.',
  'Forwarded from olivia.smith@example.com',
];

/** Deterministic PRNG so every run scans the same table. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function uuid(r: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(r() * 16).toString(16)).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`;
}

type Cell = readonly [column: string, value: string];

/** Rows of a typical orders/customers join: mostly short non-sensitive strings and numbers. */
export function syntheticTable(rows: number): Cell[][] {
  const r = prng(42);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const table: Cell[][] = [];
  for (let i = 0; i < rows; i++) {
    const first = pick(FIRST);
    const last = pick(LAST);
    const day = String(1 + Math.floor(r() * 28)).padStart(2, '0');
    const note = r() < 0.06 ? pick(SENSITIVE_NOTES) : pick(NOTES);
    table.push([
      ['id', String(100000 + i)],
      ['first_name', first],
      ['last_name', last],
      ['email', r() < 0.3 ? `${first.toLowerCase()}.${i}@example.com` : ''],
      ['created_at', `2024-03-${day} 10:${String(i % 60).padStart(2, '0')}:31.123+00`],
      ['amount', (r() * 2000).toFixed(2)],
      ['status', pick(STATUS)],
      ['city', pick(CITY)],
      ['zip', String(10000 + Math.floor(r() * 89999))],
      ['sku', `SKU-${Math.floor(r() * 99999)}-${pick(['A', 'B', 'C'])}`],
      ['order_ref', uuid(r)],
      ['notes', note],
    ]);
  }
  // Values decoded from a DataRow are flat strings; template results here are ropes, which read
  // several times slower and would understate the scan rate.
  return table.map((row) => row.map(([c, v]) => [c, Buffer.from(v, 'utf8').toString('utf8')]));
}

function bytesOf(table: Cell[][]): number {
  let bytes = 0;
  for (const row of table) for (const [, v] of row) bytes += Buffer.byteLength(v);
  return bytes;
}

/** Single-core MB/s of `scan` over the table's values (median of one-second windows). */
export function measureScanRate(table: Cell[][], seconds: number): number {
  const detectors = createDetectors();
  // The engine builds one options object per result column, not per value.
  const options = table[0]!.map(([column]) => ({ columnHint: column }));
  let sink = 0;
  const rate = medianRate(bytesOf(table), seconds, () => {
    let found = 0;
    for (const row of table) {
      for (let c = 0; c < row.length; c++) found += detectors.scan(row[c]![1], options[c]).length;
    }
    sink += found;
  });
  if (sink < 0) throw new Error('unreachable');
  return rate;
}

/**
 * MB/s of the cheapest possible pass over the same values (sum their UTF-16 code units): a
 * yardstick for this machine, since a shared VM core can be several times slower than a laptop's.
 */
export function measureReferenceRate(table: Cell[][], seconds: number): number {
  let sink = 0;
  const rate = medianRate(bytesOf(table), seconds, () => {
    let sum = 0;
    for (const row of table) {
      for (let c = 0; c < row.length; c++) {
        const v = row[c]![1];
        for (let i = 0; i < v.length; i++) sum += v.charCodeAt(i);
      }
    }
    sink += sum;
  });
  if (sink < 0) throw new Error('unreachable');
  return rate;
}

export interface DetectorBenchResult {
  /** Scan throughput, single core, median of one-second windows. */
  mbPerSec: number;
  /** The same machine's plain character loop over the same values (see measureReferenceRate). */
  referenceMbPerSec: number;
  precisionRecall: Record<DetectorType, { precision: number; recall: number }>;
  table: Record<DetectorType, TypeScore>;
}

export function runDetectorBench(
  seconds = Number(process.env.BENCH_SECONDS ?? 5),
): DetectorBenchResult {
  const table = syntheticTable(5000);
  const referenceMbPerSec = measureReferenceRate(table, 1);
  const mbPerSec = measureScanRate(table, seconds);
  const scores = evaluateCorpus(createDetectors(CORPUS_DETECTOR_CONFIG), loadCorpus()).byType;
  const precisionRecall = Object.fromEntries(
    Object.entries(scores).map(([t, s]) => [t, { precision: s.precision, recall: s.recall }]),
  ) as Record<DetectorType, { precision: number; recall: number }>;
  return { mbPerSec, referenceMbPerSec, precisionRecall, table: scores };
}

if (import.meta.main) {
  const r = runDetectorBench();
  process.stdout.write(
    `detectors: ${r.mbPerSec.toFixed(1)} MB/s (single core, one scan per value, column name as hint)\n` +
      `reference: ${r.referenceMbPerSec.toFixed(0)} MB/s for a bare character loop on this machine\n\n`,
  );
  process.stdout.write(`${formatTable(r.table)}\n`);
}
