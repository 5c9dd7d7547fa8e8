/**
 * Messages from the server can echo values: `invalid input syntax for type integer: "…"`, a
 * unique violation's `Key (ssn)=(…) already exists.`, a check violation's `Failing row contains
 * (…)`, a NOTIFY payload. In a masked session their text fields are scanned for the session's
 * detector types, and key and row details of tables under column rules are masked too.
 * https://www.postgresql.org/docs/current/protocol-error-fields.html
 */

import type { CompiledRule, SessionRules } from '../../../masking/rules.ts';
import { columnMatches } from '../../../masking/rules.ts';
import { FULL_MASK } from '../../../masking/styles.ts';
import type { MaskTally } from '../../../masking/tally.ts';
import type { ValueMasker } from '../../../masking/value-masker.ts';
import type { NoticeFields } from '../codec/messages.ts';

/** Fields that carry free text (message, detail, hint, context, internal query). */
const TEXT_FIELDS = ['M', 'D', 'H', 'W', 'q'] as const;
const UNREADABLE = '[masked: this text could not be inspected]';
const KEY_VALUES =
  /\)=\((.*?)\)(?= already exists| is not present| is still referenced| conflicts with|\.$|$)/gs;
const FAILING_ROW = /^Failing row contains \(.*\)(\.?)$/s;

export interface NoticeMaskContext {
  readonly rules: SessionRules;
  readonly values: ValueMasker;
  readonly tally: MaskTally | undefined;
}

/**
 * The fields with values masked, or null when nothing changed.
 *
 * @example
 * maskNoticeFields({ S: 'ERROR', C: '23505', M: '…', D: 'Key (ssn)=(137-23-1379) already exists.', t: 'patients' }, ctx);
 * // D: 'Key (ssn)=(****) already exists.'
 */
export function maskNoticeFields(
  fields: NoticeFields,
  ctx: NoticeMaskContext,
): NoticeFields | null {
  const out: Record<string, string> = { ...fields };
  let changed = false;
  const detail = fields.D;
  if (detail !== undefined && ctx.rules.whole.length > 0) {
    const d = maskDetail(detail, fields, ctx);
    if (d !== detail) {
      out.D = d;
      changed = true;
    }
  }
  const scan = ctx.rules.allScan;
  if (scan) {
    for (const k of TEXT_FIELDS) {
      const v = out[k];
      if (v === undefined) continue;
      const masked = scanText(v, ctx);
      if (masked !== null) {
        out[k] = masked;
        changed = true;
      }
    }
  }
  return changed ? out : null;
}

/** Detector findings masked in free text; null when none. A detector failure hides the text. */
export function scanText(text: string, ctx: NoticeMaskContext): string | null {
  const scan = ctx.rules.allScan;
  if (!scan) return null;
  try {
    return ctx.values.scan(text, scan, { types: scan.types }, (type, rule) =>
      ctx.tally?.finding(type, rule),
    );
  } catch {
    return UNREADABLE;
  }
}

/** Key and row details of tables under column rules: the values go, the column names stay. */
function maskDetail(detail: string, fields: NoticeFields, ctx: NoticeMaskContext): string {
  const where = { schema: fields.s, table: fields.t };
  if (FAILING_ROW.test(detail)) {
    const rule = ctx.rules.whole.find((r) => tableMayMatch(r, where));
    return rule ? detail.replace(FAILING_ROW, `Failing row contains (${FULL_MASK})$1`) : detail;
  }
  const cols = /^Key \((.*?)\)=\(/s.exec(detail)?.[1];
  if (cols === undefined) return detail;
  const rule = ruleForKey(cols, where, ctx.rules);
  if (!rule) return detail;
  ctx.tally?.value(`${fields.t ?? 'unknown table'} (error detail)`, rule, false);
  return detail.replace(KEY_VALUES, (_, v: string) => `)=(${ctx.values.style(rule, v)})`);
}

function ruleForKey(
  cols: string,
  where: { schema: string | undefined; table: string | undefined },
  rules: SessionRules,
): CompiledRule | undefined {
  for (const raw of cols.split(', ')) {
    const plain = /^"?([^"()]+)"?$/.exec(raw)?.[1];
    if (plain === undefined) {
      // An expression index (`lower(email)`): any rule on the table applies.
      const r = rules.whole.find((x) => tableMayMatch(x, where));
      if (r) return r;
      continue;
    }
    const r = rules.wholeRuleFor({ ...where, column: plain });
    if (r) return r;
  }
  return undefined;
}

function tableMayMatch(
  rule: CompiledRule,
  where: { schema: string | undefined; table: string | undefined },
): boolean {
  return (
    rule.columns?.some((p) =>
      columnMatches({ ...p, parts: [p.parts[0], p.parts[1], /^/] }, { ...where, column: '' }),
    ) ?? false
  );
}
