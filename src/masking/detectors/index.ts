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
  FEATURE_SPACE,
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
import { ABSENT, SignatureTable } from './signature-table.ts';
import { jwt, privateKey } from './tokens.ts';
import {
  type ByteFilter,
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

interface Eligibility {
  /**
   * The first word of the stats' signature (with their `flags`, the second): the features and
   * which of the detectors' minimum lengths the length reaches.
   */
  keyOf(stats: TextStats): number;
  /** The detectors whose length and counts requirements the stats meet (none for most values). */
  listFor(stats: TextStats): readonly Detector[];
}

/**
 * The detectors whose length and counts requirements a text meets, memoised by a signature of
 * those counts: most values share a handful of signatures, so this is one table lookup per scan.
 */
function eligibility(detectors: readonly Detector[]): Eligibility {
  const minLengths = [...new Set(detectors.map((d) => d.minLength))].sort((a, b) => a - b);
  const top = minLengths[minLengths.length - 1] ?? 0;
  const buckets = Uint8Array.from(
    { length: top + 1 },
    (_, n) => minLengths.filter((m) => m <= n).length,
  );
  const keyOf = (stats: TextStats) =>
    stats.features + FEATURE_SPACE * buckets[Math.min(stats.length, top)]!;
  const table = new SignatureTable();
  let lists: (readonly Detector[])[] = [];
  return {
    keyOf,
    listFor(stats) {
      const { length, features, flags } = stats;
      const key = keyOf(stats);
      const at = table.get(key, flags);
      if (at !== ABSENT) return lists[at]!;
      if (table.full) lists = [];
      const list = detectors.filter((d) => d.minLength <= length && needsMet(d, features, flags));
      table.set(key, flags, lists.push(list) - 1);
      return list;
    },
  };
}

/** A byte filter's decision for a signature: a `LIT_*` family mask, or one of these. */
const RULED_OUT = 0;
const KEPT = 1 << 30;

/**
 * `mayContainBytes` for one column (hint and types): whether any detector is left, decided once
 * per count signature (the detectors' `Needs` and `ByteNeeds` read nothing else), as kept, ruled
 * out, or the literal families one of which must be present.
 */
function columnFilter(eligible: Eligibility, opts: ScanOptions | undefined): ByteFilter {
  const hint = opts?.columnHint === undefined ? NO_HINT : hintInfo(opts.columnHint);
  const types = opts?.types;
  const table = new SignatureTable();
  function decide(stats: TextStats): number {
    const { features, flags } = stats;
    let families = 0;
    for (const d of eligible.listFor(stats)) {
      if (types !== undefined && !types.has(d.type)) continue;
      if (d.hintKeeps(hint)) return KEPT;
      if (!d.byteNeeds.some((r) => needsMet(r, features, flags))) continue;
      if (d.literals === 0) return KEPT;
      families |= d.literals;
    }
    return families;
  }
  return {
    mayContain(bytes, start, end) {
      if (end - start < MIN_TEXT) return false;
      const stats = computeStatsOfBytes(bytes, start, end);
      const key = eligible.keyOf(stats);
      let decision = table.get(key, stats.flags);
      if (decision === ABSENT) {
        decision = decide(stats);
        table.set(key, stats.flags, decision);
      }
      if (decision === RULED_OUT) return false;
      if (decision === KEPT) return true;
      // Literals are looked for only once a detector's counts and hint leave it in the running.
      return (literalsOfBytes(bytes, start, end) & decision) !== 0;
    },
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
  const noOptions = columnFilter(eligible, undefined);
  const filters = new WeakMap<ScanOptions, ByteFilter>();
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
    return eligible.listFor(computeStats(text));
  }

  /** One filter per options object: a result column's is made once and kept in its plan. */
  function byteFilter(opts?: ScanOptions): ByteFilter {
    if (opts === undefined) return noOptions;
    let filter = filters.get(opts);
    if (filter === undefined) {
      filter = columnFilter(eligible, opts);
      filters.set(opts, filter);
    }
    return filter;
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

    byteFilter,

    mayContainBytes(bytes: Uint8Array, start: number, end: number, opts?: ScanOptions): boolean {
      return byteFilter(opts).mayContain(bytes, start, end);
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
