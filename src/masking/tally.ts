/**
 * What one command had masked, for its `data.masked` ledger event: which columns and detector
 * types, by which rule and style, and how many values. Never a value.
 */
import type { DetectorType } from './detectors/types.ts';
import type { CompiledRule } from './rules.ts';

export interface MaskedEventData {
  readonly policyVersion: string;
  /** The single rule involved, when there is exactly one (for OCSF `status_detail`). */
  readonly rule?: string;
  readonly rules: readonly string[];
  readonly columns: readonly {
    column: string;
    rule: string;
    style: string;
    values: number;
    nulled?: number;
  }[];
  readonly types: readonly { type: DetectorType; rule: string; findings: number }[];
  /** Values changed (masked or replaced by NULL). */
  readonly values: number;
  readonly rows: number;
  /** Set when a value could not be masked and the rule said fail: the session was ended. */
  readonly failed?: { readonly rule: string; readonly reason: string };
}

interface ColumnCount {
  readonly column: string;
  readonly rule: CompiledRule;
  values: number;
  nulled: number;
}

/**
 * @example
 * const t = new MaskTally();
 * t.value('public.patients.ssn', rule, false);
 * t.toEvent('mv_0123') // { values: 1, columns: [{ column: 'public.patients.ssn', ... }], ... }
 */
export class MaskTally {
  values = 0;
  rows = 0;
  failed: { rule: string; reason: string } | undefined;
  readonly #columns = new Map<CompiledRule, Map<string, ColumnCount>>();
  readonly #types = new Map<DetectorType, { rule: CompiledRule; findings: number }>();

  /** One value of `column` was masked by `rule` (replaced by NULL when `nulled`). */
  value(column: string, rule: CompiledRule, nulled: boolean): void {
    this.values++;
    let byColumn = this.#columns.get(rule);
    if (!byColumn) {
      byColumn = new Map();
      this.#columns.set(rule, byColumn);
    }
    let c = byColumn.get(column);
    if (!c) {
      c = { column, rule, values: 0, nulled: 0 };
      byColumn.set(column, c);
    }
    c.values++;
    if (nulled) c.nulled++;
  }

  finding(type: DetectorType, rule: CompiledRule): void {
    const t = this.#types.get(type);
    if (t) t.findings++;
    else this.#types.set(type, { rule, findings: 1 });
  }

  get empty(): boolean {
    return this.values === 0 && this.failed === undefined;
  }

  toEvent(policyVersion: string): MaskedEventData {
    const rules = new Set<string>();
    const columns = [...this.#columns.values()]
      .flatMap((m) => [...m.values()])
      .map((c) => {
        rules.add(c.rule.name);
        return {
          column: c.column,
          rule: c.rule.name,
          style: c.rule.style,
          values: c.values,
          ...(c.nulled > 0 ? { nulled: c.nulled } : {}),
        };
      });
    const types = [...this.#types].map(([type, t]) => {
      rules.add(t.rule.name);
      return { type, rule: t.rule.name, findings: t.findings };
    });
    if (this.failed) rules.add(this.failed.rule);
    const names = [...rules];
    return {
      policyVersion,
      ...(names.length === 1 ? { rule: names[0] as string } : {}),
      rules: names,
      columns,
      types,
      values: this.values,
      rows: this.rows,
      ...(this.failed ? { failed: this.failed } : {}),
    };
  }
}
