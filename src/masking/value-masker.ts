/**
 * Masks one value: the whole of it with a rule's style, or only the detector findings in it.
 * Protocol-neutral: it sees strings, never bytes. A detector that throws propagates: the caller
 * fails closed.
 */
import { GatewayError } from '../errors.ts';
import type { ByteFilter, DetectorSet, DetectorType, ScanOptions } from './detectors/types.ts';
import type { CompiledRule, ScanSpec } from './rules.ts';
import { applyStyle, type SaltKey, saltKey } from './styles.ts';

/** Salted outputs kept per style (bounded; values longer than this are not kept). */
const MEMO_ENTRIES = 4096;
const MEMO_MAX_VALUE = 256;

/** Salted outputs by value, with the hit count since the last clear. */
interface Memo {
  readonly map: Map<string, string>;
  hits: number;
  /** Values still to style without the memo. */
  bypass: number;
}

function newMemo(): Memo {
  return { map: new Map(), hits: 0, bypass: 0 };
}

export type OnFinding = (type: DetectorType, rule: CompiledRule) => void;

/**
 * A value could not be inspected or masked and its rule says `on_error: fail`. The message names
 * the column, the rule and the reason, never the value.
 */
export function maskingFailed(what: string, rule: string, reason: string): GatewayError {
  return new GatewayError(
    'GW_MASKING_FAILED',
    `masking failed for ${what} (rule ${rule}): ${reason}; the result was not delivered`,
  );
}

/**
 * @example
 * const m = new ValueMasker(detectors, salt);
 * m.scan('mail amelia@example.com', spec, { types: spec.types }); // 'mail ****'
 */
export class ValueMasker {
  readonly #detectors: DetectorSet;
  readonly #salt: SaltKey | undefined;
  readonly #hashMemo = newMemo();
  readonly #formatMemo = newMemo();

  constructor(detectors: DetectorSet, salt: Uint8Array | undefined) {
    this.#detectors = detectors;
    this.#salt = salt && salt.length > 0 ? saltKey(salt) : undefined;
  }

  /**
   * The rule's style applied to the whole value. Salted styles are memoised (HMAC is costly)
   * while the memo pays: when a full memo saw few repeats (a column of unique values), it is
   * left aside for a while, since a miss costs a string hash and an insert on top of the HMAC.
   */
  style(rule: CompiledRule, value: string): string {
    if (rule.style === 'full' || rule.style === 'last4' || value.length > MEMO_MAX_VALUE) {
      return applyStyle(rule.style, value, this.#salt);
    }
    const memo = rule.style === 'hash' ? this.#hashMemo : this.#formatMemo;
    if (memo.bypass > 0) {
      memo.bypass--;
      return applyStyle(rule.style, value, this.#salt);
    }
    const hit = memo.map.get(value);
    if (hit !== undefined) {
      memo.hits++;
      return hit;
    }
    const out = applyStyle(rule.style, value, this.#salt);
    if (memo.map.size >= MEMO_ENTRIES) {
      memo.map.clear();
      if (memo.hits < MEMO_ENTRIES / 8) memo.bypass = MEMO_ENTRIES * 4;
      memo.hits = 0;
    }
    memo.map.set(value, out);
    return out;
  }

  /**
   * Findings of the scan's types replaced by their rules' styles; null when none. `scan` gates
   * itself cheaply, so no separate `mayContain` call (it would cost a second pass on positives).
   */
  scan(text: string, spec: ScanSpec, opts: ScanOptions, onFinding?: OnFinding): string | null {
    if (text.length === 0) return null;
    const findings = this.#detectors.scan(text, opts);
    if (findings.length === 0) return null;
    let out = '';
    let at = 0;
    let changed = false;
    for (const f of findings) {
      const rule = spec.ruleOf.get(f.type);
      if (!rule || f.start < at || f.end <= f.start) continue;
      out += text.slice(at, f.start) + this.style(rule, text.slice(f.start, f.end));
      at = f.end;
      changed = true;
      onFinding?.(f.type, rule);
    }
    return changed ? out + text.slice(at) : null;
  }

  /**
   * The byte pre-check for one column's options, to keep for the column's values: false when no
   * detector of the scan could match a value's UTF-8 bytes, which then need no decoding.
   */
  byteFilter(opts: ScanOptions): ByteFilter {
    return this.#detectors.byteFilter(opts);
  }

  /** `bytes[start, end)` as UTF-8 text; a scan right after the byte pre-check reuses its counts. */
  decode(bytes: Uint8Array, start: number, end: number): string {
    return this.#detectors.decode(bytes, start, end);
  }

  /** The findings a rule of `spec` masks (for text that arrives in pieces: stream-masker.ts). */
  spans(
    text: string,
    spec: ScanSpec,
    opts: ScanOptions,
  ): { start: number; end: number; type: DetectorType }[] {
    if (text.length === 0) return [];
    return this.#detectors.scan(text, opts).filter((f) => spec.ruleOf.has(f.type));
  }

  /** The rule of the first finding, for values that cannot be rewritten in their type. */
  firstFinding(text: string, spec: ScanSpec, opts: ScanOptions): CompiledRule | undefined {
    if (text.length === 0) return undefined;
    for (const f of this.#detectors.scan(text, opts)) {
      const rule = spec.ruleOf.get(f.type);
      if (rule) return rule;
    }
    return undefined;
  }

  /**
   * JSON text: findings inside string and number tokens are masked, each changed token written
   * back as a JSON string, everything else byte for byte, so the document stays valid JSON.
   */
  scanJson(text: string, spec: ScanSpec, opts: ScanOptions, onFinding?: OnFinding): string | null {
    if (!this.#detectors.mayContain(text, opts)) return null;
    let out = '';
    let copied = 0;
    let changed = false;
    forEachJsonScalar(text, (start, end, isString) => {
      const raw = text.slice(start, end);
      const value = isString ? (JSON.parse(raw) as string) : raw;
      const masked = this.scan(value, spec, opts, onFinding);
      if (masked === null) return;
      out += text.slice(copied, start) + JSON.stringify(masked);
      copied = end;
      changed = true;
    });
    return changed ? out + text.slice(copied) : null;
  }

  /** The rule's style over a whole JSON value: a JSON string, so the document stays valid. */
  styleJson(rule: CompiledRule, text: string): string {
    return JSON.stringify(this.style(rule, text));
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Calls `fn` with the span of every string (quotes included) and number token of valid JSON. */
export function forEachJsonScalar(
  text: string,
  fn: (start: number, end: number, isString: boolean) => void,
): void {
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      let j = i + 1;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (d === BACKSLASH) j += 2;
        else if (d === QUOTE) break;
        else j++;
      }
      fn(i, j + 1, true);
      i = j + 1;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      let j = i + 1;
      while (j < n && /[0-9eE.+-]/.test(text.charAt(j))) j++;
      fn(i, j, false);
      i = j;
    } else {
      i++;
    }
  }
}
