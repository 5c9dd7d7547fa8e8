/**
 * The detector library: `createDetectors(config)` builds a `DetectorSet` that finds PII, PHI,
 * payment data and secrets in a string. One pass counts characters; each detector's gate reads
 * those counts, so most values (names, amounts, timestamps) are refused in a few comparisons.
 */
import { GatewayError } from '../../errors.ts';
import { hintInfo, NO_HINT } from './context.ts';
import {
  type Candidate,
  computeStats,
  computeStatsOfBytes,
  type Detector,
  decodeCounted,
  FLAG_SPACE,
  needsMet,
  type ScanInput,
  type TextStats,
} from './detector.ts';
import { creditCard, iban } from './financial.ts';
import { genericSecret } from './generic-secret.ts';
import { literalsOfBytes } from './literals.ts';
import { createMrnDetector, dateOfBirth } from './medical.ts';
import { ipAddress } from './network.ts';
import { email, phone, usSsn } from './pii.ts';
import {
  awsAccessKey,
  awsSecretKey,
  azureKey,
  gcpApiKey,
  githubToken,
  gitlabToken,
  slackToken,
} from './secrets.ts';
import { jwt, privateKey } from './tokens.ts';
import {
  DETECTOR_TYPES,
  type DetectorConfig,
  type DetectorSet,
  type DetectorType,
  type Finding,
  type ScanOptions,
} from './types.ts';

export { assertSafePattern } from './safe-pattern.ts';
export * from './types.ts';

/** Minimum score when the configuration names none. */
export const DEFAULT_THRESHOLD = 0.5;
/** Nothing shorter than `::1` can be a finding. */
const MIN_TEXT = 3;
const MEMO_MAX = 4096;
/** Every `LIT_*` family: a pregate given it decides on counts and hint alone. */
const ANY_LITERAL = -1;
/** The shortest email (`a@b.co`): values shorter than this are mostly names and codes. */
const TINY = 6;

const BUILTIN: readonly Detector[] = [
  privateKey,
  jwt,
  awsAccessKey,
  awsSecretKey,
  gcpApiKey,
  azureKey,
  githubToken,
  gitlabToken,
  slackToken,
  email,
  creditCard,
  iban,
  usSsn,
  phone,
  ipAddress,
  dateOfBirth,
  genericSecret,
];

function invalid(message: string, cause?: unknown): GatewayError {
  return new GatewayError('GW_CONFIG_INVALID', `masking: ${message}`, { cause });
}

function isDetectorType(type: string): type is DetectorType {
  return (DETECTOR_TYPES as readonly string[]).includes(type);
}

function thresholdsOf(config: DetectorConfig): Record<DetectorType, number> {
  const t = Object.fromEntries(DETECTOR_TYPES.map((type) => [type, DEFAULT_THRESHOLD]));
  for (const [type, value] of Object.entries(config.thresholds ?? {})) {
    if (!isDetectorType(type)) throw invalid(`unknown type ${type}`);
    if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
      throw invalid(`threshold for ${type} must be between 0 and 1`);
    }
    t[type] = value;
  }
  return t as Record<DetectorType, number>;
}

function detectorsOf(config: DetectorConfig): Detector[] {
  const disabled = new Set<string>(config.disabled ?? []);
  for (const type of disabled) if (!isDetectorType(type)) throw invalid(`unknown type ${type}`);
  const all = [...BUILTIN];
  try {
    const mrn = createMrnDetector(config.mrnPatterns ?? []);
    if (mrn !== undefined) all.push(mrn);
  } catch (err) {
    throw invalid(`mrn pattern refused: ${(err as Error).message}`, err);
  }
  return all.filter((d) => !disabled.has(d.type));
}

/** Highest score first, then longest, then leftmost. */
function byPriority(a: Candidate, b: Candidate): number {
  return b.score - a.score || b.end - b.start - (a.end - a.start) || a.start - b.start;
}

function byStart(a: Candidate, b: Candidate): number {
  return a.start - b.start || a.end - b.end;
}

function anyOverlap(sorted: readonly Candidate[]): boolean {
  for (let i = 1; i < sorted.length; i++) if (sorted[i]!.start < sorted[i - 1]!.end) return true;
  return false;
}

/**
 * Greedy by priority: keep a candidate when it overlaps nothing kept; result sorted by start.
 * Kept spans are marked in a coverage array, so each check costs the candidate's length; one
 * detector's candidates never overlap each other, so the total stays linear in the text.
 */
export function resolveOverlaps(candidates: Candidate[]): Finding[] {
  if (candidates.length <= 1) return candidates;
  candidates.sort(byStart);
  if (!anyOverlap(candidates)) return candidates;
  const base = candidates[0]!.start;
  let last = base;
  for (const c of candidates) if (c.end > last) last = c.end;
  const covered = new Uint8Array(last - base);
  const kept: Candidate[] = [];
  for (const c of [...candidates].sort(byPriority)) {
    if (covered.subarray(c.start - base, c.end - base).includes(1)) continue;
    covered.fill(1, c.start - base, c.end - base);
    kept.push(c);
  }
  return kept.sort(byStart);
}

/**
 * The detectors whose length and counts requirements a text meets, memoised by a signature of
 * those counts: most values share a handful of signatures, so this is one map lookup per scan.
 */
function eligibility(detectors: readonly Detector[]): (stats: TextStats) => readonly Detector[] {
  const minLengths = [...new Set(detectors.map((d) => d.minLength))].sort((a, b) => a - b);
  const top = minLengths[minLengths.length - 1] ?? 0;
  const bucketOf = Uint8Array.from(
    { length: top + 1 },
    (_, n) => minLengths.filter((m) => m <= n).length,
  );
  const buckets = minLengths.length + 1;
  const memo = new Map<number, readonly Detector[]>();
  return (stats) => {
    const bucket = bucketOf[Math.min(stats.length, top)]!;
    const key = (stats.features * FLAG_SPACE + stats.flags) * buckets + bucket;
    let list = memo.get(key);
    if (list === undefined) {
      if (memo.size >= MEMO_MAX) memo.clear();
      const { length, features, flags } = stats;
      list = detectors.filter((d) => d.minLength <= length && needsMet(d, features, flags));
      memo.set(key, list);
    }
    return list;
  };
}

/**
 * Builds the detector set once per configuration (it throws `GW_CONFIG_INVALID` on a bad
 * threshold, type or MRN pattern); `scan` and `mayContain` are synchronous and linear in the text.
 *
 * @example
 * const detectors = createDetectors({ mrnPatterns: ['MRN-\\d{7}'] });
 * detectors.scan('card 4111 1111 1111 1111, mail ana@example.org');
 * // [{ type: 'credit_card', start: 5, end: 24, score: 1 }, { type: 'email', start: 31, end: 46, score: 1 }]
 */
export function createDetectors(config: DetectorConfig = {}): DetectorSet {
  const thresholds = thresholdsOf(config);
  const detectors = detectorsOf(config);
  const eligible = eligibility(detectors);
  const none: readonly Detector[] = [];
  // Below TINY characters only an IPv6 address (`::1`) can match, unless an MRN pattern is set.
  const tinyOnlyIp = detectors.every((d) => d.minLength >= TINY || d.type === 'ip_address');

  function inputOf(text: string, opts: ScanOptions | undefined): ScanInput {
    const hint = opts?.columnHint === undefined ? NO_HINT : hintInfo(opts.columnHint);
    return { text, stats: computeStats(text), hint, thresholds, keywords: -1, literals: -1 };
  }

  /** Detectors the text's counts leave (none for most values). */
  function candidatesFor(text: string): readonly Detector[] {
    if (text.length < MIN_TEXT) return none;
    if (text.length < TINY && tinyOnlyIp && !text.includes(':')) return none;
    return eligible(computeStats(text));
  }

  function wanted(d: Detector, input: ScanInput, types: ScanOptions['types']): boolean {
    return (types === undefined || types.has(d.type)) && d.gate(input);
  }

  function aboveThreshold(c: Candidate): boolean {
    return c.score >= thresholds[c.type];
  }

  return {
    scan(text: string, opts?: ScanOptions): Finding[] {
      const list = candidatesFor(text);
      if (list.length === 0) return [];
      const input = inputOf(text, opts);
      const candidates: Candidate[] = [];
      for (const d of list) if (wanted(d, input, opts?.types)) d.find(input, candidates);
      if (candidates.length === 0) return candidates;
      const passing = candidates.every(aboveThreshold)
        ? candidates
        : candidates.filter(aboveThreshold);
      return resolveOverlaps(passing);
    },

    mayContainBytes(bytes: Uint8Array, start: number, end: number, opts?: ScanOptions): boolean {
      const length = end - start;
      if (length < MIN_TEXT) return false;
      const stats = computeStatsOfBytes(bytes, start, end);
      const list = eligible(stats);
      if (list.length === 0) return false;
      const hint = opts?.columnHint === undefined ? NO_HINT : hintInfo(opts.columnHint);
      const types = opts?.types;
      // Literals are looked for only once a detector's counts and hint leave it in the running.
      let literals = ANY_LITERAL;
      let found = false;
      for (const d of list) {
        if (types !== undefined && !types.has(d.type)) continue;
        if (!d.pregate(stats, hint, ANY_LITERAL)) continue;
        if (!d.literals) return true;
        if (!found) {
          literals = literalsOfBytes(bytes, start, end);
          found = true;
        }
        if (d.pregate(stats, hint, literals)) return true;
      }
      return false;
    },

    decode: decodeCounted,

    mayContain(text: string, opts?: ScanOptions): boolean {
      const list = candidatesFor(text);
      if (list.length === 0) return false;
      const input = inputOf(text, opts);
      return list.some((d) => wanted(d, input, opts?.types));
    },
  };
}
