/**
 * The masking engine: compiled rules, the detectors, the salt and the policy version. Engines ask
 * it once per session which rules apply (none: the data path stays untouched), and the pipeline
 * asks it to redact what the ledger records.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../audit/canonical.ts';
import type { MaskingConfig } from './config.ts';
import type { DetectorConfig, DetectorSet, ScanOptions } from './detectors/types.ts';
import {
  appliesTo,
  type CompiledRule,
  compileRules,
  rulesForConnection,
  SessionRules,
} from './rules.ts';
import { ValueMasker } from './value-masker.ts';

/**
 * The version of a masking policy: a hash of its canonical form (rules in order, with defaults
 * applied, and detector settings). The salt is not part of it.
 *
 * @example
 * maskingPolicyVersion(config.masking); // 'mv_3f9a0c1d2e4b5a69'
 */
export function maskingPolicyVersion(config: MaskingConfig): string {
  const canonical = canonicalJson({ detectors: config.detectors, rules: config.rules });
  return `mv_${createHash('sha256').update(canonical).digest('hex').slice(0, 16)}`;
}

/** The detector library's settings from the YAML section. */
export function detectorConfigOf(config: MaskingConfig): DetectorConfig {
  const d = config.detectors;
  return {
    ...(d.thresholds ? { thresholds: d.thresholds } : {}),
    ...(d.mrn_patterns ? { mrnPatterns: d.mrn_patterns } : {}),
    ...(d.disabled ? { disabled: d.disabled } : {}),
  };
}

/** Redacts detector findings from text the ledger records (statements, parameters, errors). */
export interface AuditRedactor {
  /** The text with every finding replaced by `[masked:<type>]`; the same string when none. */
  text(value: string): string;
  /** Number of findings replaced so far (for tests and metrics). */
  readonly redactions: number;
}

/**
 * @example
 * const engine = new MaskingEngine(config.masking, createDetectors(detectorConfigOf(config.masking)));
 * const rules = engine.forSession('clinic', identity.groups); // null: nothing to mask
 */
export class MaskingEngine {
  readonly version: string;
  readonly config: MaskingConfig;
  readonly values: ValueMasker;
  readonly #detectors: DetectorSet;
  readonly #rules: readonly CompiledRule[];
  readonly #redactors = new Map<string, AuditRedactor | null>();

  constructor(config: MaskingConfig, detectors: DetectorSet) {
    this.config = config;
    this.version = maskingPolicyVersion(config);
    this.#detectors = detectors;
    this.#rules = compileRules(config.rules);
    const salt = config.salt ? Buffer.from(config.salt.reveal(), 'utf8') : undefined;
    this.values = new ValueMasker(detectors, salt);
  }

  get ruleCount(): number {
    return this.#rules.length;
  }

  /** The rules for a session on `connection` by an identity in `groups`; null when none apply. */
  forSession(connection: string, groups: readonly string[]): SessionRules | null {
    const rules = rulesForConnection(this.#rules, connection).filter((r) => appliesTo(r, groups));
    return rules.length > 0 ? new SessionRules(rules) : null;
  }

  /**
   * Redaction of ledger records on `connection`: the detector types of every rule that applies
   * there, whoever the identity (exempt groups see clear results, the ledger never keeps them).
   */
  auditRedactor(connection: string): AuditRedactor | null {
    if (this.#redactors.has(connection)) return this.#redactors.get(connection) ?? null;
    const rules = new SessionRules(rulesForConnection(this.#rules, connection));
    const scan = rules.allScan;
    const redactor = scan ? this.#redactor({ types: scan.types }) : null;
    this.#redactors.set(connection, redactor);
    return redactor;
  }

  #redactor(opts: ScanOptions): AuditRedactor {
    return createRedactor(this.#detectors, opts);
  }
}

/**
 * A ledger redactor over any detector set: findings of `opts.types` become `[masked:<type>]`.
 *
 * @example
 * createRedactor(createDetectors(), { types: new Set(['aws_access_key']) }).text('key AKIA…');
 */
export function createRedactor(detectors: DetectorSet, opts: ScanOptions): AuditRedactor {
  let redactions = 0;
  return {
    get redactions() {
      return redactions;
    },
    text(value: string): string {
      if (value.length === 0 || !detectors.mayContain(value, opts)) return value;
      let out = '';
      let at = 0;
      for (const f of detectors.scan(value, opts)) {
        if (f.start < at) continue;
        out += `${value.slice(at, f.start)}[masked:${f.type}]`;
        at = f.end;
        redactions++;
      }
      return at === 0 ? value : out + value.slice(at);
    },
  };
}
