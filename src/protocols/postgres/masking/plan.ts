/**
 * The column plan of one result: for each column, what the session's rules say (mask the whole
 * value, scan it, or nothing) and what its type and wire format allow. Built once per
 * RowDescription (or COPY); a result with no action on any column gets no plan at all, so its
 * rows pass through untouched. Values are then masked one by one, failing closed.
 */
import { GatewayError } from '../../../errors.ts';
import type { ByteFilter, DetectorType, ScanOptions } from '../../../masking/detectors/types.ts';
import type { ColumnName, CompiledRule, RuleAction, SessionRules } from '../../../masking/rules.ts';
import { FULL_MASK } from '../../../masking/styles.ts';
import type { MaskTally } from '../../../masking/tally.ts';
import { maskingFailed, type ValueMasker } from '../../../masking/value-masker.ts';
import { type TypeInfo, type ValueKind, valueKind } from './pg-types.ts';

/** One result column as the plan sees it. */
export interface PlanColumn {
  /** Resolved name; null for a computed column (no table); 'unresolved' when the lookup failed. */
  readonly name: ColumnName | null | 'unresolved';
  /** The name in the result (possibly an alias). */
  readonly fieldName: string;
  readonly typeOid: number;
  /** 0 text, 1 binary. */
  readonly format: number;
  readonly typeInfo?: TypeInfo | undefined;
}

export interface ColumnAction {
  readonly label: string;
  readonly action: RuleAction;
  readonly kind: ValueKind;
  readonly format: number;
  readonly opts: ScanOptions;
  /** The rule whose `on_error` decides when the value cannot be inspected. */
  readonly errorRule: CompiledRule;
  /** Set when every value becomes the same text (`full` over a text-like, non-JSON type). */
  readonly constant?: string | undefined;
  /** The byte pre-check of a scanned column, made on first use (see `byteFilterOf`). */
  byteFilter: { readonly values: ValueMasker; readonly filter: ByteFilter } | undefined;
}

/** One entry per column; null entries pass through. */
export type RowPlan = readonly (ColumnAction | null)[];

export interface MaskContext {
  readonly values: ValueMasker;
  readonly tally: MaskTally;
}

/**
 * @example
 * const plan = buildRowPlan([{ name: ssnName, fieldName: 'x', typeOid: 25, format: 0 }], rules);
 * // plan?.[0]?.action.kind === 'whole'
 */
export function buildRowPlan(columns: readonly PlanColumn[], rules: SessionRules): RowPlan | null {
  let any = false;
  const plan = columns.map((c) => {
    const action = rules.actionFor(c.name);
    if (!action) return null;
    any = true;
    return columnAction(c, action);
  });
  return any ? plan : null;
}

function columnAction(c: PlanColumn, action: RuleAction): ColumnAction {
  const label =
    c.name === null
      ? c.fieldName
      : c.name === 'unresolved'
        ? `${c.fieldName} (unresolved)`
        : `${c.name.schema}.${c.name.table}.${c.name.column}`;
  const hint = c.name !== null && c.name !== 'unresolved' ? c.name.column : c.fieldName;
  const types = action.kind === 'scan' ? action.scan.types : undefined;
  const kind = valueKind(c.typeOid, c.format, c.typeInfo);
  const constant =
    action.kind === 'whole' && action.rule.style === 'full' && kind.wholeOk && !kind.json
      ? FULL_MASK
      : undefined;
  return {
    label,
    action,
    kind,
    constant,
    format: c.format,
    opts: types ? { types, columnHint: hint } : { columnHint: hint },
    errorRule: errorRuleOf(action),
    byteFilter: undefined,
  };
}

/**
 * The column's byte pre-check (`ValueMasker.byteFilter` of its options), kept in the plan so that
 * each value costs no lookup.
 *
 * @example
 * if (!byteFilterOf(col, ctx.values).mayContain(msg, pos, pos + len)) continue; // no decoding
 */
export function byteFilterOf(col: ColumnAction, values: ValueMasker): ByteFilter {
  const kept = col.byteFilter;
  if (kept !== undefined && kept.values === values) return kept.filter;
  const filter = values.byteFilter(col.opts);
  col.byteFilter = { values, filter };
  return filter;
}

function errorRuleOf(action: RuleAction): CompiledRule {
  if (action.kind === 'whole') return action.rule;
  const rules = [...action.scan.ruleOf.values()];
  return rules.find((r) => r.onError === 'fail') ?? (rules[0] as CompiledRule);
}

/**
 * A text-format value (DataRow text columns, COPY fields). Returns undefined when unchanged,
 * null for SQL NULL (the value could not be masked in its type), or the masked string; throws
 * GW_MASKING_FAILED when the rule says fail.
 */
export function maskText(
  text: string,
  col: ColumnAction,
  ctx: MaskContext,
): string | null | undefined {
  const a = col.action;
  try {
    if (a.kind === 'whole') {
      if (!col.kind.wholeOk) {
        return nullOrFail(col, a.rule, `type ${col.kind.typeName} cannot hold a masked value`, ctx);
      }
      ctx.tally.value(col.label, a.rule, false);
      return col.kind.json ? ctx.values.styleJson(a.rule, text) : ctx.values.style(a.rule, text);
    }
    if (!col.kind.scanOk) {
      const rule = ctx.values.firstFinding(text, a.scan, col.opts);
      if (!rule) return undefined;
      return nullOrFail(col, rule, `type ${col.kind.typeName} cannot hold a masked value`, ctx);
    }
    let first: CompiledRule | undefined;
    const onFinding = (type: DetectorType, rule: CompiledRule) => {
      first ??= rule;
      ctx.tally.finding(type, rule);
    };
    const out = col.kind.json
      ? ctx.values.scanJson(text, a.scan, col.opts, onFinding)
      : ctx.values.scan(text, a.scan, col.opts, onFinding);
    if (out === null || !first) return undefined;
    ctx.tally.value(col.label, first, false);
    return out;
  } catch (err) {
    if (err instanceof GatewayError) throw err;
    return nullOrFail(col, col.errorRule, 'the value could not be inspected', ctx);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A binary-format value: text-like types as UTF-8, scalars decoded for scanning, others opaque. */
export function maskBinary(
  v: Uint8Array,
  col: ColumnAction,
  ctx: MaskContext,
): Uint8Array | null | undefined {
  const k = col.kind;
  if (k.opaque) {
    return nullOrFail(col, col.errorRule, `binary ${k.typeName} values cannot be inspected`, ctx);
  }
  let text: string;
  try {
    if (k.decode) text = k.decode(v);
    else if (k.jsonbPrefix) {
      if (v[0] !== 1) throw new Error('unknown jsonb version');
      text = utf8.decode(v.subarray(1));
    } else text = utf8.decode(v);
  } catch {
    return nullOrFail(col, col.errorRule, `the ${k.typeName} value could not be decoded`, ctx);
  }
  const out = maskText(text, col, ctx);
  if (out === undefined || out === null) return out;
  const bytes = Buffer.from(out, 'utf8');
  if (!k.jsonbPrefix) return bytes;
  const prefixed = new Uint8Array(bytes.length + 1);
  prefixed[0] = 1;
  prefixed.set(bytes, 1);
  return prefixed;
}

function nullOrFail(col: ColumnAction, rule: CompiledRule, reason: string, ctx: MaskContext): null {
  if (rule.onError === 'fail') {
    ctx.tally.failed ??= { rule: rule.name, reason: `${col.label}: ${reason}` };
    throw maskingFailed(`column ${col.label}`, rule.name, reason);
  }
  ctx.tally.value(col.label, rule, true);
  return null;
}
