import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MaskingRuleConfig } from './config.ts';
import {
  appliesTo,
  columnMatches,
  compileColumnPattern,
  compileRules,
  rulesForConnection,
  SessionRules,
} from './rules.ts';

const ssn = { schema: 'public', table: 'patients', column: 'ssn' };

function rule(r: Partial<MaskingRuleConfig> & { name: string }): MaskingRuleConfig {
  return { style: 'full', on_error: 'mask', ...r };
}

describe('column globs', () => {
  const m = (p: string, n = ssn) => columnMatches(compileColumnPattern(p), n);

  it('matches by column, table.column and schema.table.column', () => {
    assert.ok(m('ssn'));
    assert.ok(m('patients.ssn'));
    assert.ok(m('public.patients.ssn'));
    assert.ok(!m('other.patients.ssn'));
    assert.ok(!m('billing.ssn'));
  });

  it('globs inside each part, never across dots', () => {
    assert.ok(m('*.ssn'));
    assert.ok(m('patients.*'));
    assert.ok(m('pub*.*.s?n'));
    assert.ok(!m('*.ss'));
    assert.ok(!m('patients.*', { schema: 'public', table: 'patients_archive', column: 'x' }));
    assert.ok(m('*.*.*'));
  });

  it('is case-insensitive (fails towards masking)', () => {
    assert.ok(m('Patients.SSN'));
  });

  it('unknown schema or table parts match anything', () => {
    const p = compileColumnPattern('public.patients.ssn');
    assert.ok(columnMatches(p, { column: 'ssn' }));
    assert.ok(!columnMatches(p, { table: 'billing', column: 'ssn' }));
  });
});

describe('session rules', () => {
  const compiled = compileRules([
    rule({ name: 'ssn', columns: ['*.ssn'], exempt_groups: ['clinicians'] }),
    rule({
      name: 'cards',
      columns: ['billing.card_number'],
      style: 'last4',
      connections: ['clinic*'],
    }),
    rule({ name: 'notes-phones', columns: ['visits.notes'], types: ['us_ssn'] }),
    rule({ name: 'emails', types: ['email'], style: 'hash' }),
  ]);

  it('narrows by connection glob and exempt groups', () => {
    assert.deepEqual(
      rulesForConnection(compiled, 'billing-db').map((r) => r.name),
      ['ssn', 'notes-phones', 'emails'],
    );
    const ssnRule = compiled[0];
    assert.ok(ssnRule && !appliesTo(ssnRule, ['staff', 'clinicians']));
    assert.ok(ssnRule && appliesTo(ssnRule, ['staff']));
  });

  it('gives each column one action: whole, scoped scan, anywhere scan', () => {
    const s = new SessionRules(rulesForConnection(compiled, 'clinic'));
    assert.equal(s.needsNames, true);
    const whole = s.actionFor(ssn);
    assert.equal(whole?.kind === 'whole' && whole.rule.name, 'ssn');
    const card = s.actionFor({ schema: 'public', table: 'billing', column: 'card_number' });
    assert.equal(card?.kind === 'whole' && card.rule.style, 'last4');
    const notes = s.actionFor({ schema: 'public', table: 'visits', column: 'notes' });
    assert.ok(notes?.kind === 'scan');
    assert.deepEqual([...notes.scan.types].sort(), ['email', 'us_ssn']);
    assert.equal(notes.scan.ruleOf.get('email')?.name, 'emails');
    const other = s.actionFor({ schema: 'public', table: 'visits', column: 'department' });
    assert.ok(other?.kind === 'scan');
    assert.deepEqual([...other.scan.types], ['email']);
  });

  it('computed columns get type rules only; unresolved ones fail closed', () => {
    const s = new SessionRules(rulesForConnection(compiled, 'clinic'));
    const computed = s.actionFor(null);
    assert.ok(computed?.kind === 'scan');
    assert.deepEqual([...computed.scan.types], ['email']);
    const unresolved = s.actionFor('unresolved');
    assert.equal(unresolved?.kind === 'whole' && unresolved.rule.name, 'ssn');
  });

  it('without type rules a computed column has no action, and an unresolved one scans all types', () => {
    const s = new SessionRules(
      compileRules([rule({ name: 'n', columns: ['x.y'], types: ['us_ssn'] })]),
    );
    assert.equal(s.actionFor(null), null);
    const u = s.actionFor('unresolved');
    assert.ok(u?.kind === 'scan');
    assert.deepEqual([...u.scan.types], ['us_ssn']);
  });

  it('type-only sessions never need the catalog for names', () => {
    const s = new SessionRules(compileRules([rule({ name: 'e', types: ['email'] })]));
    assert.equal(s.needsNames, false);
  });
});
