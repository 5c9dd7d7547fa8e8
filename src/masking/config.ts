/**
 * The `masking:` section of airlock.yaml: detector settings, a salt for the deterministic styles,
 * and rules that say what to mask (columns, detector types, or both), how (style), for whom
 * (connections, minus exempt groups) and what to do when a value cannot be inspected (on_error).
 */
import { z } from 'zod';
import { nameField, secretField } from '../config/fields.ts';
import { DETECTOR_TYPES } from './detectors/types.ts';

export const MASK_STYLES = ['full', 'last4', 'format', 'hash'] as const;
export type MaskStyle = (typeof MASK_STYLES)[number];

export const ON_ERROR = ['mask', 'fail'] as const;
export type OnError = (typeof ON_ERROR)[number];

/** Styles that derive their output from the salt. */
export const SALTED_STYLES: ReadonlySet<MaskStyle> = new Set(['format', 'hash']);

const detectorType = z.enum(DETECTOR_TYPES);

/** `column`, `table.column` or `schema.table.column`; `*` and `?` globs inside each part. */
const columnPattern = z
  .string()
  .min(1)
  .refine(
    (p) => {
      const parts = p.split('.');
      return parts.length <= 3 && parts.every((s) => s.length > 0);
    },
    { message: 'expected column, table.column or schema.table.column (globs allowed)' },
  );

export const maskingRuleSchema = z
  .strictObject({
    name: nameField,
    /** Connection name globs; default every connection. */
    connections: z.array(z.string().min(1)).min(1).optional(),
    /** Column globs: the whole value is masked (or, with `types`, only those findings in it). */
    columns: z.array(columnPattern).min(1).optional(),
    /** Detector types: every finding of these types is masked wherever it appears. */
    types: z.array(detectorType).min(1).optional(),
    style: z.enum(MASK_STYLES).default('full'),
    /** A value that cannot be inspected or masked in its type: masked (default) or the session fails. */
    on_error: z.enum(ON_ERROR).default('mask'),
    /** Members of these groups see clear values. */
    exempt_groups: z.array(z.string().min(1)).optional(),
  })
  .refine((r) => r.columns !== undefined || r.types !== undefined, {
    message: 'a rule needs columns, types, or both',
  });

export const maskingSchema = z
  .strictObject({
    /** Key of the `hash` and `format` styles; required when a rule uses one. Use `${env:...}`. */
    salt: secretField.optional(),
    detectors: z
      .strictObject({
        /** Minimum score (0..1) per detector type. */
        thresholds: z.partialRecord(detectorType, z.number().min(0).max(1)).optional(),
        /** Medical record number patterns (regular expressions), e.g. `MRN-\d{6}`. */
        mrn_patterns: z
          .array(z.string().min(1).refine(compiles, 'not a valid regular expression'))
          .optional(),
        disabled: z.array(detectorType).optional(),
      })
      .default({}),
    /** Budget for resolving result columns through the catalog; then the result fails closed. */
    catalog_timeout_ms: z.number().int().min(100).max(60_000).default(5000),
    rules: z.array(maskingRuleSchema).default([]),
  })
  .superRefine((m, ctx) => {
    const names = new Set<string>();
    const disabled = new Set(m.detectors.disabled ?? []);
    m.rules.forEach((r, i) => {
      if (names.has(r.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['rules', i, 'name'],
          message: `duplicate rule name "${r.name}"`,
        });
      }
      names.add(r.name);
      if (SALTED_STYLES.has(r.style) && !m.salt) {
        ctx.addIssue({
          code: 'custom',
          path: ['rules', i, 'style'],
          message: `style ${r.style} needs masking.salt (a secret, e.g. \${env:AIRLOCK_MASKING_SALT})`,
        });
      }
      r.types?.forEach((t, j) => {
        if (disabled.has(t)) {
          ctx.addIssue({
            code: 'custom',
            path: ['rules', i, 'types', j],
            message: `detector type ${t} is disabled in masking.detectors.disabled`,
          });
        }
      });
    });
    if (m.salt && m.salt.reveal().length < 16) {
      ctx.addIssue({
        code: 'custom',
        path: ['salt'],
        message: 'the salt must be at least 16 characters',
      });
    }
  });

function compiles(source: string): boolean {
  try {
    new RegExp(source, 'u');
    return true;
  } catch {
    return false;
  }
}

export type MaskingConfig = z.output<typeof maskingSchema>;
export type MaskingRuleConfig = z.output<typeof maskingRuleSchema>;

/** The section when absent: no rules, nothing masked. */
export const MASKING_DEFAULTS: MaskingConfig = {
  detectors: {},
  catalog_timeout_ms: 5000,
  rules: [],
};
