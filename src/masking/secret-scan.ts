/**
 * Secrets in free text (terminal output, command lines): the secret-type detectors of the
 * detector library plus Airlock's own tokens, so a token pasted into a shell never lands in a
 * recording or the ledger. Spans carry positions and a type, never the value.
 */
import { createDetectors, type DetectorSet, type DetectorType } from './detectors/index.ts';

/** The detector types that are credentials (PII such as e-mail addresses is left alone). */
export const SECRET_TYPES: ReadonlySet<DetectorType> = new Set<DetectorType>([
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
]);

/** `alk_<id>_<secret>`, anywhere in the text (see identity/token-store.ts). */
const AIRLOCK_TOKEN = /alk_[a-z2-7]{12}_[A-Za-z0-9_-]{43}/g;

export interface SecretSpan {
  /** A detector type, or `airlock_token`. */
  readonly type: string;
  readonly start: number;
  readonly end: number;
}

/**
 * @example
 * const scanner = new SecretScanner();
 * scanner.redact('export GITHUB_TOKEN=ghp_...'); // { text: 'export GITHUB_TOKEN=[masked:github_token]', ... }
 */
export class SecretScanner {
  readonly #detectors: DetectorSet;
  readonly #types: ReadonlySet<DetectorType>;

  constructor(
    detectors: DetectorSet = createDetectors(),
    types: ReadonlySet<DetectorType> = SECRET_TYPES,
  ) {
    this.#detectors = detectors;
    this.#types = types;
  }

  /** Non-overlapping secret spans, sorted by start. */
  find(text: string): SecretSpan[] {
    const spans: SecretSpan[] = [];
    for (const m of text.matchAll(AIRLOCK_TOKEN)) {
      spans.push({ type: 'airlock_token', start: m.index, end: m.index + m[0].length });
    }
    if (this.#detectors.mayContain(text, { types: this.#types })) {
      for (const f of this.#detectors.scan(text, { types: this.#types })) {
        if (!spans.some((s) => s.start < f.end && f.start < s.end)) spans.push(f);
      }
    }
    return spans.sort((a, b) => a.start - b.start);
  }

  /**
   * The text with each secret replaced by `[masked:<type>]`, and how many of each type.
   *
   * @example
   * new SecretScanner().redact('token alk_…'); // { text: 'token [masked:airlock_token]', counts: { airlock_token: 1 } }
   */
  redact(text: string): { text: string; counts: Record<string, number> } {
    const spans = this.find(text);
    const counts: Record<string, number> = {};
    if (spans.length === 0) return { text, counts };
    let out = '';
    let at = 0;
    for (const s of spans) {
      out += `${text.slice(at, s.start)}[masked:${s.type}]`;
      at = s.end;
      counts[s.type] = (counts[s.type] ?? 0) + 1;
    }
    return { text: out + text.slice(at), counts };
  }
}
