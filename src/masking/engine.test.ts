import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../config/loader.ts';
import { MaskingEngine, maskingPolicyVersion } from './engine.ts';
import { fakeDetectors } from './testing/fake-detectors.ts';

const env = { SALT: 'a-long-enough-masking-salt', OTHER: 'another-long-masking-salt' };
const masking = (yaml: string) => parseConfig(`masking:\n${yaml}`, 'test', env).masking;

const BASE = `  salt: \${env:SALT}
  rules:
    - { name: ssn, columns: ['*.ssn'] }
    - { name: emails, types: [email], style: hash, exempt_groups: [clinicians] }
`;

describe('masking policy version', () => {
  it('is a stable hash of the canonical rules', () => {
    const v = maskingPolicyVersion(masking(BASE));
    assert.match(v, /^mv_[0-9a-f]{16}$/);
    assert.equal(v, maskingPolicyVersion(masking(BASE)));
  });

  it('ignores key order and spelled-out defaults, but not rule order or content', () => {
    const v = maskingPolicyVersion(masking(BASE));
    const reordered = `  rules:
    - { columns: ['*.ssn'], style: full, on_error: mask, name: ssn }
    - { style: hash, types: [email], name: emails, exempt_groups: [clinicians] }
  salt: \${env:SALT}
`;
    assert.equal(maskingPolicyVersion(masking(reordered)), v);
    const swapped = `  salt: \${env:SALT}
  rules:
    - { name: emails, types: [email], style: hash, exempt_groups: [clinicians] }
    - { name: ssn, columns: ['*.ssn'] }
`;
    assert.notEqual(maskingPolicyVersion(masking(swapped)), v);
    assert.notEqual(maskingPolicyVersion(masking(BASE.replace('[clinicians]', '[doctors]'))), v);
    assert.notEqual(
      maskingPolicyVersion(masking(`${BASE}  detectors: { disabled: [phone] }\n`)),
      v,
    );
  });

  it('never depends on (or reveals) the salt', () => {
    const v = maskingPolicyVersion(masking(BASE));
    assert.equal(maskingPolicyVersion(masking(BASE.replace('SALT', 'OTHER'))), v);
  });
});

describe('masking engine', () => {
  it('gives no session rules when none apply: the data path stays untouched', () => {
    const e = new MaskingEngine(
      masking(
        `  rules:\n    - { name: s, columns: [ssn], connections: [billing], exempt_groups: [x] }\n`,
      ),
      fakeDetectors(),
    );
    assert.equal(e.forSession('clinic', []), null);
    assert.equal(e.forSession('billing', ['x']), null);
    assert.ok(e.forSession('billing', ['y']));
  });

  it('redacts ledger text with every type rule of the connection, exempt or not', () => {
    const e = new MaskingEngine(masking(BASE), fakeDetectors());
    const r = e.auditRedactor('clinic');
    assert.ok(r);
    assert.equal(
      r.text("SELECT * FROM patients WHERE email = 'amelia.okafor@example.com'"),
      "SELECT * FROM patients WHERE email = '[masked:email]'",
    );
    assert.equal(r.text('SELECT 1'), 'SELECT 1');
    assert.equal(r.redactions, 1);
    const columnsOnly = new MaskingEngine(
      masking(`  rules:\n    - { name: s, columns: [ssn] }\n`),
      fakeDetectors(),
    );
    assert.equal(columnsOnly.auditRedactor('clinic'), null);
  });
});
