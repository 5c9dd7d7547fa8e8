/**
 * Masking text that arrives in pieces (an LLM's streamed tokens). Text is held back until it is
 * safe to forward: at least `holdBack` characters behind the newest piece, never in the middle
 * of a word (secrets and keys have no spaces), never inside a finding that could still grow, and
 * never after an unterminated `-----BEGIN` block. So a secret split across chunks is scanned
 * whole before any of it is forwarded. Sans-I/O: strings in, strings out.
 */

/** A span to mask: `text.slice(start, end)` is the value, `type` names the detector. */
export interface Span {
  readonly start: number;
  readonly end: number;
  readonly type: string;
}

export interface StreamMaskerOptions {
  /** Finds the spans to mask in a text (already filtered to the rules' types). May throw. */
  readonly scan: (text: string) => readonly Span[];
  /** The masked form of one value of `type`. */
  readonly replace: (type: string, value: string) => string;
  /** Characters held back behind the newest text. */
  readonly holdBack: number;
  /** A word longer than this is forwarded (scanned) anyway, so memory stays bounded. */
  readonly maxHold?: number;
  /** Called once per masked value. */
  readonly onMasked?: (type: string) => void;
}

/** Forwarded text kept as context for the detectors (e.g. `password:` before its value). */
const CONTEXT = 64;
const DEFAULT_MAX_HOLD = 65_536;
const PEM_BEGIN = '-----BEGIN';
const PEM_END = '-----END';

/**
 * @example
 * const m = new StreamMasker({ scan, replace: () => '****', holdBack: 32 });
 * m.push('key AKIAIOSF') + m.push('ODNN7EXAMPLE and more') + m.flush(); // 'key **** and more'
 */
export class StreamMasker {
  readonly #opts: StreamMaskerOptions;
  readonly #maxHold: number;
  #pending = '';
  #context = '';

  constructor(opts: StreamMaskerOptions) {
    this.#opts = opts;
    this.#maxHold = Math.max(opts.maxHold ?? DEFAULT_MAX_HOLD, opts.holdBack * 2);
  }

  /** Characters held back right now. */
  get held(): number {
    return this.#pending.length;
  }

  /** Adds a piece; returns the masked text that is now safe to forward (often ''). */
  push(piece: string): string {
    this.#pending += piece;
    if (this.#pending.length <= this.#opts.holdBack) return '';
    return this.#emit(false);
  }

  /** The end of this text: everything left, masked. */
  flush(): string {
    if (this.#pending.length === 0) return '';
    return this.#emit(true);
  }

  #emit(all: boolean): string {
    const text = this.#context + this.#pending;
    const offset = this.#context.length;
    const spans = this.#opts.scan(text);
    const cut = all ? this.#pending.length : this.#safeCut(spans, offset);
    if (cut <= 0) return '';
    const out = this.#render(text, spans, offset, offset + cut);
    const forwarded = this.#pending.slice(0, cut);
    this.#context = (this.#context + forwarded).slice(-CONTEXT);
    this.#pending = this.#pending.slice(cut);
    return out;
  }

  /** How much of the pending text may go, as an index into it. */
  #safeCut(spans: readonly Span[], offset: number): number {
    const p = this.#pending;
    let cut = p.length - this.#opts.holdBack;
    if (p.length > this.#maxHold) return cut;
    cut = wordStart(p, cut);
    const pem = p.lastIndexOf(PEM_BEGIN);
    if (pem >= 0 && !p.includes(PEM_END, pem) && pem < cut) cut = pem;
    for (const s of spans) {
      const start = s.start - offset;
      const end = s.end - offset;
      if (start < cut && end > cut) cut = Math.max(0, start);
    }
    return cut;
  }

  /** The pending text up to `until` (an index into `text`), spans replaced. */
  #render(text: string, spans: readonly Span[], from: number, until: number): string {
    let out = '';
    let at = from;
    for (const s of spans) {
      if (s.end <= at || s.start >= until || s.end <= s.start) continue;
      // A span reaching back into forwarded context: mask what is left of it.
      const start = Math.max(s.start, at);
      const end = Math.min(s.end, until);
      out += text.slice(at, start) + this.#opts.replace(s.type, text.slice(start, end));
      this.#opts.onMasked?.(s.type);
      at = end;
    }
    return out + text.slice(at, until);
  }
}

function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || c === 0xa0;
}

/** `cut` moved back to the start of the word it falls in (unchanged at a word boundary). */
function wordStart(text: string, cut: number): number {
  if (cut <= 0) return 0;
  let i = cut;
  while (i > 0 && !isSpace(text.charCodeAt(i - 1)) && !isSpace(text.charCodeAt(i))) i--;
  return i;
}
