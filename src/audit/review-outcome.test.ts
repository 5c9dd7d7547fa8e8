import assert from 'node:assert/strict';
import { test } from 'node:test';
import { reviewEndOf, reviewOutcomeText } from './review-outcome.ts';

test('names who decided only for approvals and denials', () => {
  const approved = { status: 'approved', approvers: ['dave@example.com', 'dana@example.com'] };
  assert.equal(reviewOutcomeText(true, approved), 'approved by dave@example.com, dana@example.com');
  const denied = { status: 'denied', deniedBy: 'dana@example.com', reason: 'not today' };
  assert.equal(reviewOutcomeText(false, denied), 'rejected by dana@example.com');
  assert.equal(
    reviewOutcomeText(false, denied, { reasons: true }),
    'rejected by dana@example.com: not today',
  );
  assert.equal(reviewOutcomeText(false, { approver: 'bob' }), 'rejected by bob');
  assert.equal(reviewOutcomeText(false, { status: 'denied', approvers: [] }), 'rejected');
});

test('a review that ended without a decision says how, never "rejected by"', () => {
  const shutdown = { status: 'cancelled', reason: 'the gateway is shutting down', approvers: [] };
  assert.equal(reviewEndOf(false, shutdown), 'cancelled');
  assert.equal(reviewOutcomeText(false, shutdown), 'cancelled: the gateway is shutting down');
  assert.equal(reviewOutcomeText(false, { status: 'cancelled' }), 'cancelled');
  const expired = { status: 'expired', reason: 'no decision before the review timed out' };
  assert.equal(reviewOutcomeText(false, expired), 'expired');
  assert.equal(
    reviewOutcomeText(false, expired, { reasons: true }),
    'expired: no decision before the review timed out',
  );
  const refused = { status: 'refused', reason: 'token budget exceeded' };
  assert.equal(reviewOutcomeText(false, refused), 'refused: token budget exceeded');
});
