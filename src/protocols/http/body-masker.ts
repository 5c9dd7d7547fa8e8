/**
 * Masking of HTTP bodies for one session: JSON (findings inside strings, the document stays
 * valid), text, and text that streams (hold-back window, see masking/stream-masker.ts). Only
 * detector-type rules apply to HTTP (there are no columns). Counts go to one `data.masked` event
 * per request; values never do.
 */

import type { DetectorType } from '../../masking/detectors/types.ts';
import type { MaskingEngine } from '../../masking/engine.ts';
import type { ScanSpec } from '../../masking/rules.ts';
import { StreamMasker } from '../../masking/stream-masker.ts';
import { type MaskedEventData, MaskTally } from '../../masking/tally.ts';

/**
 * @example
 * const m = BodyMasker.forSession(engine, 'openai', identity.groups, 128); // null: nothing to mask
 * const masked = m?.json(bodyText) ?? bodyText;
 */
export class BodyMasker {
  readonly #engine: MaskingEngine;
  readonly #spec: ScanSpec;
  readonly #holdBack: number;
  readonly #tally = new MaskTally();

  private constructor(engine: MaskingEngine, spec: ScanSpec, holdBack: number) {
    this.#engine = engine;
    this.#spec = spec;
    this.#holdBack = holdBack;
  }

  static forSession(
    engine: MaskingEngine | undefined,
    connection: string,
    groups: readonly string[],
    holdBack: number,
  ): BodyMasker | null {
    const spec = engine?.forSession(connection, groups)?.anywhereScan;
    return engine && spec ? new BodyMasker(engine, spec, holdBack) : null;
  }

  /** JSON text with findings masked, or null when nothing changed. Throws: fail closed. */
  json(text: string): string | null {
    return this.#engine.values.scanJson(text, this.#spec, this.#opts(), this.#onFinding);
  }

  /** Plain text with findings masked, or null when nothing changed. */
  text(text: string): string | null {
    return this.#engine.values.scan(text, this.#spec, this.#opts(), this.#onFinding);
  }

  /** A masker for one text that arrives in pieces. */
  stream(): StreamMasker {
    const values = this.#engine.values;
    const spec = this.#spec;
    const opts = this.#opts();
    return new StreamMasker({
      holdBack: this.#holdBack,
      scan: (t) => values.spans(t, spec, opts),
      replace: (type, value) => {
        const rule = spec.ruleOf.get(type as DetectorType);
        return rule ? values.style(rule, value) : '****';
      },
      onMasked: (type) => {
        const rule = spec.ruleOf.get(type as DetectorType);
        if (rule) this.#onFinding(type as DetectorType, rule);
      },
    });
  }

  /** What was masked so far, for `data.masked`; undefined when nothing was. */
  event(): MaskedEventData | undefined {
    return this.#tally.empty ? undefined : this.#tally.toEvent(this.#engine.version);
  }

  #opts() {
    return { types: this.#spec.types };
  }

  readonly #onFinding = (type: DetectorType, rule: Parameters<MaskTally['finding']>[1]): void => {
    this.#tally.finding(type, rule);
    this.#tally.values++;
  };
}
