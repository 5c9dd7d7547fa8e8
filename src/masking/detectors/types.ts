/**
 * The contract between the detector library (detectors/) and the masking engine (engine, rules,
 * PostgreSQL integration). Detectors find sensitive substrings in text; the engine decides what
 * to do with them. Findings carry positions and a score, never a copy of the value.
 */

export const DETECTOR_TYPES = [
  'email',
  'phone',
  'credit_card',
  'us_ssn',
  'iban',
  'ip_address',
  'date_of_birth',
  'mrn',
  'aws_access_key',
  'aws_secret_key',
  'gcp_api_key',
  'azure_key',
  'github_token',
  'gitlab_token',
  'slack_token',
  'jwt',
  'private_key',
  'generic_secret',
] as const;
export type DetectorType = (typeof DETECTOR_TYPES)[number];

/** One sensitive span: `text.slice(start, end)` is the value. */
export interface Finding {
  readonly type: DetectorType;
  readonly start: number;
  readonly end: number;
  /** 0..1; validators (Luhn, checksums) and context words raise it. */
  readonly score: number;
}

export interface ScanOptions {
  /** Only these types (default: every enabled type). */
  readonly types?: ReadonlySet<DetectorType>;
  /** Column name, when scanning a result column: counts as context (e.g. `ssn`, `dob`). */
  readonly columnHint?: string;
}

export interface DetectorConfig {
  /** Minimum score per type (default per type, e.g. 0.5). */
  readonly thresholds?: Partial<Record<DetectorType, number>>;
  /** Medical record number patterns (RE2-safe regex sources), e.g. `MRN-\\d{6}`. */
  readonly mrnPatterns?: readonly string[];
  /** Types switched off. */
  readonly disabled?: readonly DetectorType[];
}

/** `mayContainBytes` bound to one column's options (see `DetectorSet.byteFilter`). */
export interface ByteFilter {
  mayContain(bytes: Uint8Array, start: number, end: number): boolean;
}

export interface DetectorSet {
  /**
   * Findings at or above their thresholds, sorted by start, non-overlapping (the higher score
   * wins). Linear in the input; throws only on a bug (the engine then fails closed).
   */
  scan(text: string, opts?: ScanOptions): Finding[];
  /** Cheap pre-check: false means `scan` would certainly find nothing. */
  mayContain(text: string, opts?: ScanOptions): boolean;
  /**
   * The same pre-check on UTF-8 bytes `[start, end)`, before any decoding: counts and shapes only
   * (no keyword or prefix gates), so it says "maybe" at least whenever `mayContain` would on the
   * decoded text. Most result values are ruled out here and never become strings.
   */
  mayContainBytes(bytes: Uint8Array, start: number, end: number, opts?: ScanOptions): boolean;
  /**
   * `mayContainBytes` with these options, as an object to keep (one per result column): it
   * decides once per count signature instead of once per value.
   */
  byteFilter(opts?: ScanOptions): ByteFilter;
  /**
   * `bytes[start, end)` decoded as UTF-8 (invalid sequences become U+FFFD). Right after
   * `mayContainBytes` on the same bytes, a scan of the text reuses the counts it made.
   */
  decode(bytes: Uint8Array, start: number, end: number): string;
}
