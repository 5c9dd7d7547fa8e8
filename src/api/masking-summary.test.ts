import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AuditEvent } from '../audit/types.ts';
import { maskingSummary } from './ledger-routes.ts';

const masked = (data: Record<string, unknown>) => ({ type: 'data.masked', data }) as AuditEvent;

test('sums data.masked events by column, detector type and in all, never reading values', () => {
  const summary = maskingSummary([
    masked({
      policyVersion: 'mv_1',
      rules: ['ssn', 'contact'],
      columns: [{ column: 'public.patients.ssn', rule: 'ssn', style: 'full', values: 3 }],
      types: [{ type: 'email', rule: 'contact', findings: 2 }],
      values: 5,
      rows: 3,
    }),
    { type: 'command.completed', data: { rows: 3 } } as unknown as AuditEvent,
    masked({
      columns: [{ column: 'public.patients.ssn', values: 1 }],
      types: [],
      values: 1,
    }),
  ]);
  assert.deepEqual(summary, { values: 6, 'public.patients.ssn': 4, 'type:email': 2 });
});

test('ignores malformed masking events', () => {
  assert.deepEqual(maskingSummary([masked({ columns: 'x', values: 'many' })]), {});
});
