import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../config/loader.ts';

const env = { SALT: 'a-long-enough-masking-salt' };

function problems(masking: string): string {
  try {
    parseConfig(`masking:\n${masking}`, 'test', env);
  } catch (err) {
    return String((err as Error).message);
  }
  return '';
}

describe('masking config', () => {
  it('parses rules with defaults and resolves the salt as a secret', () => {
    const cfg = parseConfig(
      `masking:
  salt: \${env:SALT}
  detectors:
    thresholds: { email: 0.7 }
    mrn_patterns: ['MRN-\\d{6}']
    disabled: [ip_address]
  rules:
    - name: ssn
      columns: ['*.ssn']
    - name: emails
      types: [email]
      style: hash
      on_error: fail
      connections: ['clinic*']
      exempt_groups: [clinicians-with-need]
`,
      'test',
      env,
    );
    const m = cfg.masking;
    assert.equal(m.rules[0]?.style, 'full');
    assert.equal(m.rules[0]?.on_error, 'mask');
    assert.equal(m.rules[1]?.style, 'hash');
    assert.equal(m.salt?.reveal(), env.SALT);
    assert.equal(JSON.stringify(m.salt), '"[redacted]"');
    assert.equal(m.catalog_timeout_ms, 5000);
  });

  it('defaults to no rules', () => {
    assert.deepEqual(parseConfig('{}', 'test', env).masking.rules, []);
  });

  it('names the key of each problem', () => {
    assert.match(
      problems(`  rules:\n    - name: t\n      types: [email]\n      style: hash\n`),
      /masking\.rules\[0\]\.style: style hash needs masking\.salt/,
    );
    assert.match(
      problems(`  rules:\n    - name: t\n`),
      /masking\.rules\[0\]: a rule needs columns, types, or both/,
    );
    assert.match(
      problems(`  rules:\n    - name: t\n      columns: ['a.b.c.d']\n`),
      /masking\.rules\[0\]\.columns\[0\]: expected column, table\.column or schema\.table\.column/,
    );
    assert.match(
      problems(`  rules:\n    - name: t\n      types: [emails]\n`),
      /masking\.rules\[0\]\.types\[0\]/,
    );
    assert.match(
      problems(`  rules:\n    - { name: t, types: [email] }\n    - { name: t, columns: [x] }\n`),
      /masking\.rules\[1\]\.name: duplicate rule name "t"/,
    );
    assert.match(
      problems(`  detectors: { disabled: [email] }\n  rules:\n    - { name: t, types: [email] }\n`),
      /masking\.rules\[0\]\.types\[0\]: detector type email is disabled/,
    );
    assert.match(
      problems(`  salt: short\n  rules: []\n`),
      /masking\.salt: the salt must be at least 16/,
    );
    assert.match(
      problems(`  rules:\n    - { name: t, columns: [x], on_error: ignore }\n`),
      /masking\.rules\[0\]\.on_error/,
    );
    assert.match(
      problems(`  detectors: { mrn_patterns: ['(('] }\n`),
      /masking\.detectors\.mrn_patterns\[0\]/,
    );
  });
});
