/**
 * Masks secrets in terminal output that arrives in timed pieces, sans-I/O. The last
 * `holdBack` characters are kept back until more text arrives, so a secret split across pieces is
 * still seen whole; an opened `-----BEGIN ... KEY-----` block is kept back until its END line (up
 * to `maxHold` characters). Masking keeps the length (each character becomes `*`, line breaks
 * stay), so terminal layout and every piece's timestamp survive.
 *
 * What it cannot catch: a secret longer than the hold-back window that the detectors only
 * recognise whole, or one interleaved with terminal escape sequences.
 */
import type { SecretScanner, SecretSpan } from '../masking/secret-scan.ts';

/** A piece of text with the time it was produced. */
export interface TimedText {
  readonly t: number;
  readonly text: string;
}

export interface TerminalMaskerOptions {
  /** Characters kept back for the next scan (default 4096). */
  readonly holdBack?: number;
  /** Most characters kept back for an unterminated key block (default 65536). */
  readonly maxHold?: number;
}

const PEM_BEGIN = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/g;
const PEM_END = '-----END ';

/**
 * @example
 * const m = new TerminalMasker(new SecretScanner(), { holdBack: 256 });
 * const out = [...m.push('token: ghp_abc', 1), ...m.push('def...', 2), ...m.flush()];
 * m.counts; // { github_token: 1 }
 */
export class TerminalMasker {
  readonly #scanner: SecretScanner;
  readonly #holdBack: number;
  readonly #maxHold: number;
  #pieces: TimedText[] = [];
  #length = 0;
  /** Findings masked so far, by type. */
  readonly counts: Record<string, number> = {};

  constructor(scanner: SecretScanner, opts: TerminalMaskerOptions = {}) {
    this.#scanner = scanner;
    this.#holdBack = opts.holdBack ?? 4096;
    this.#maxHold = Math.max(opts.maxHold ?? 65_536, this.#holdBack);
  }

  /** Characters not yet released. */
  get pending(): number {
    return this.#length;
  }

  /** The time of the oldest piece not yet released (Infinity when none is held). */
  get oldest(): number {
    return this.#pieces[0]?.t ?? Number.POSITIVE_INFINITY;
  }

  /** Adds a piece; returns what can be released now, masked, with original times. */
  push(text: string, t: number): TimedText[] {
    if (text.length === 0) return [];
    this.#pieces.push({ t, text });
    this.#length += text.length;
    // Released in batches of at least holdBack characters, so each scan covers new text.
    if (this.#length < 2 * this.#holdBack) return [];
    return this.#release(false);
  }

  /** Releases everything (end of stream). */
  flush(): TimedText[] {
    if (this.#length === 0) return [];
    return this.#release(true);
  }

  #release(all: boolean): TimedText[] {
    const text = this.#pieces.map((p) => p.text).join('');
    const spans = this.#scanner.find(text);
    const end = all ? text.length : this.#releasePoint(text, spans);
    if (end <= 0) return [];
    const masked = this.#mask(text, spans, end);
    const out: TimedText[] = [];
    const kept: TimedText[] = [];
    let at = 0;
    for (const p of this.#pieces) {
      const from = at;
      at += p.text.length;
      if (at <= end) out.push({ t: p.t, text: masked.slice(from, at) });
      else if (from >= end) kept.push(p);
      else {
        out.push({ t: p.t, text: masked.slice(from, end) });
        kept.push({ t: p.t, text: p.text.slice(end - from) });
      }
    }
    this.#pieces = kept;
    this.#length = text.length - end;
    return out;
  }

  /** Where released text may end: before the hold-back window and any secret crossing it. */
  #releasePoint(text: string, spans: readonly SecretSpan[]): number {
    let end = text.length - this.#holdBack;
    const open = openKeyBlock(text);
    if (open !== undefined && open < end && text.length - open <= this.#maxHold) end = open;
    // Spans do not overlap: walking back, moving before one cannot cut an earlier one.
    for (let i = spans.length - 1; i >= 0; i -= 1) {
      const s = spans[i] as SecretSpan;
      if (s.start < end && s.end > end) end = s.start;
    }
    return end;
  }

  #mask(text: string, spans: readonly SecretSpan[], end: number): string {
    let out = '';
    let at = 0;
    for (const s of spans) {
      if (s.end > end) break;
      out += text.slice(at, s.start) + text.slice(s.start, s.end).replace(/[^\r\n]/g, '*');
      at = s.end;
      this.counts[s.type] = (this.counts[s.type] ?? 0) + 1;
    }
    return out + text.slice(at);
  }
}

/** Offset of the last `BEGIN ... PRIVATE KEY` line with no END after it. */
function openKeyBlock(text: string): number | undefined {
  let open: number | undefined;
  for (const m of text.matchAll(PEM_BEGIN)) open = m.index;
  if (open === undefined) return undefined;
  return text.includes(PEM_END, open) ? undefined : open;
}
