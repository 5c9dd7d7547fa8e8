/**
 * The labelled corpus (test/fixtures/masking/corpus.jsonl) and its scoring, shared by
 * corpus.test.ts and bench/masking-detectors.ts. A finding is a true positive when its type and
 * its exact value match a label of the same line.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  DETECTOR_TYPES,
  type DetectorConfig,
  type DetectorSet,
  type DetectorType,
} from '../types.ts';

export interface CorpusLabel {
  readonly type: DetectorType;
  readonly value: string;
}

export interface CorpusLine {
  readonly text: string;
  readonly findings: readonly CorpusLabel[];
  /** Column name passed as `columnHint`, when the line is a single column value. */
  readonly hint?: string;
}

export const CORPUS_PATH = fileURLToPath(
  new URL('../../../../test/fixtures/masking/corpus.jsonl', import.meta.url),
);

/** The corpus was written for this configuration (its MRNs follow this hospital's format). */
export const CORPUS_DETECTOR_CONFIG: DetectorConfig = { mrnPatterns: ['MRN[-: ]?\\d{6,8}'] };

/** Types whose precision and recall must both reach 0.95 on the corpus. */
export const STRUCTURED_TYPES: readonly DetectorType[] = [
  'email',
  'phone',
  'credit_card',
  'us_ssn',
  'iban',
  'ip_address',
  'aws_access_key',
  'github_token',
  'gitlab_token',
  'slack_token',
  'jwt',
  'private_key',
  'gcp_api_key',
];

export function loadCorpus(path = CORPUS_PATH): CorpusLine[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as CorpusLine);
}

export interface TypeScore {
  tp: number;
  fp: number;
  fn: number;
  precision: number;
  recall: number;
}

export interface Mistake {
  readonly kind: 'false positive' | 'false negative';
  readonly type: DetectorType;
  readonly value: string;
  readonly text: string;
}

export interface CorpusReport {
  readonly byType: Record<DetectorType, TypeScore>;
  readonly mistakes: readonly Mistake[];
}

function emptyScores(): Record<DetectorType, TypeScore> {
  return Object.fromEntries(
    DETECTOR_TYPES.map((t) => [t, { tp: 0, fp: 0, fn: 0, precision: 1, recall: 1 }]),
  ) as Record<DetectorType, TypeScore>;
}

/** Scores one line into `byType`, recording each mismatch. */
function scoreLine(
  detectors: DetectorSet,
  line: CorpusLine,
  byType: Record<DetectorType, TypeScore>,
  mistakes: Mistake[],
): void {
  const opts = line.hint === undefined ? {} : { columnHint: line.hint };
  const expected = line.findings.map((f) => `${f.type}\u0000${f.value}`);
  for (const f of detectors.scan(line.text, opts)) {
    const value = line.text.slice(f.start, f.end);
    const i = expected.indexOf(`${f.type}\u0000${value}`);
    if (i === -1) {
      byType[f.type].fp++;
      mistakes.push({ kind: 'false positive', type: f.type, value, text: line.text });
    } else {
      byType[f.type].tp++;
      expected.splice(i, 1);
    }
  }
  for (const key of expected) {
    const [type, value] = key.split('\u0000') as [DetectorType, string];
    byType[type].fn++;
    mistakes.push({ kind: 'false negative', type, value, text: line.text });
  }
}

export function evaluateCorpus(detectors: DetectorSet, lines: readonly CorpusLine[]): CorpusReport {
  const byType = emptyScores();
  const mistakes: Mistake[] = [];
  for (const line of lines) scoreLine(detectors, line, byType, mistakes);
  for (const s of Object.values(byType)) {
    s.precision = s.tp + s.fp === 0 ? 1 : s.tp / (s.tp + s.fp);
    s.recall = s.tp + s.fn === 0 ? 1 : s.tp / (s.tp + s.fn);
  }
  return { byType, mistakes };
}

/** A fixed-width table: type, labelled, tp, fp, fn, precision, recall. */
export function formatTable(byType: Record<DetectorType, TypeScore>): string {
  const head = `${'type'.padEnd(16)} ${'labels'.padStart(6)} ${'tp'.padStart(4)} ${'fp'.padStart(4)} ${'fn'.padStart(4)} ${'precision'.padStart(9)} ${'recall'.padStart(7)}`;
  const rows = DETECTOR_TYPES.map((t) => {
    const s = byType[t];
    return `${t.padEnd(16)} ${String(s.tp + s.fn).padStart(6)} ${String(s.tp).padStart(4)} ${String(s.fp).padStart(4)} ${String(s.fn).padStart(4)} ${s.precision.toFixed(3).padStart(9)} ${s.recall.toFixed(3).padStart(7)}`;
  });
  return [head, ...rows].join('\n');
}
