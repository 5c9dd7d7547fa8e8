import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ERROR_CODES, GatewayError, toGatewayError } from './errors.ts';

const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
const documented = new Map(
  [...doc.matchAll(/^\| `(GW_[A-Z_]+)` \| (\w+) \|/gm)].map((m) => [
    m[1] as string,
    m[2] as string,
  ]),
);

describe('error catalogue', () => {
  it('documents every code with its kind', () => {
    for (const [code, kind] of Object.entries(ERROR_CODES)) {
      assert.equal(documented.get(code), kind, `${code} in docs/errors.md`);
    }
  });

  it('documents no code that does not exist', () => {
    for (const code of documented.keys())
      assert.ok(code in ERROR_CODES, `${code} is stale in docs`);
  });

  it('never lets a foreign error message reach the client', () => {
    const ge = toGatewayError(new Error('password=hunter2 leaked'), 's_1');
    assert.equal(ge.code, 'GW_INTERNAL');
    assert.equal(ge.clientMessage, 'internal error (session s_1)');
    assert.equal(toGatewayError(new GatewayError('GW_POLICY_DENIED', 'no')).kind, 'denied');
  });
});
