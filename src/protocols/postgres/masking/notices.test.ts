import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { maskNoticeFields } from './notices.ts';
import { maskingFixture } from './testing.ts';

describe('server messages in masked sessions', () => {
  it('masks a unique violation key of a column under a rule', () => {
    const { rules, engine } = maskingFixture(`- { name: ssn, columns: ['*.ssn'] }`);
    const out = maskNoticeFields(
      {
        S: 'ERROR',
        C: '23505',
        M: 'duplicate key value violates unique constraint "p_ssn"',
        D: 'Key (ssn)=(137-23-1379) already exists.',
        s: 'public',
        t: 'patients',
      },
      { rules, values: engine.values, tally: undefined },
    );
    assert.equal(out?.D, 'Key (ssn)=(****) already exists.');
    assert.equal(out?.M, 'duplicate key value violates unique constraint "p_ssn"');
  });

  it('leaves keys of other columns alone, but hides failing rows of tables under rules', () => {
    const { rules, engine } = maskingFixture(`- { name: ssn, columns: ['patients.ssn'] }`);
    const ctx = { rules, values: engine.values, tally: undefined };
    assert.equal(maskNoticeFields({ D: 'Key (id)=(7) already exists.', t: 'patients' }, ctx), null);
    assert.equal(
      maskNoticeFields({ D: 'Failing row contains (1, MRN-1, 137-23-1379).', t: 'patients' }, ctx)
        ?.D,
      'Failing row contains (****).',
    );
    assert.equal(maskNoticeFields({ D: 'Failing row contains (1, x).', t: 'visits' }, ctx), null);
    assert.equal(
      maskNoticeFields({ D: 'Key (lower(ssn))=(137-23-1379) already exists.', t: 'patients' }, ctx)
        ?.D,
      'Key (lower(ssn))=(****) already exists.',
    );
  });

  it('scans message, detail, hint, context and internal query for the session types', () => {
    const { rules, engine } = maskingFixture(`- { name: ids, types: [us_ssn, email] }`);
    const out = maskNoticeFields(
      {
        S: 'ERROR',
        C: '22P02',
        M: 'invalid input syntax for type integer: "137-23-1379"',
        W: 'a@b.io',
        H: 'none',
      },
      { rules, values: engine.values, tally: undefined },
    );
    assert.equal(out?.M, 'invalid input syntax for type integer: "****"');
    assert.equal(out?.W, '****');
    assert.equal(out?.H, 'none');
    assert.equal(out?.S, 'ERROR');
  });

  it('hides text a detector cannot inspect', () => {
    const { rules, engine } = maskingFixture(`- { name: ids, types: [email] }`, {
      throwOn: 'boom',
    });
    const out = maskNoticeFields(
      { M: 'boom a@b.io' },
      { rules, values: engine.values, tally: undefined },
    );
    assert.match(out?.M ?? '', /could not be inspected/);
  });
});
