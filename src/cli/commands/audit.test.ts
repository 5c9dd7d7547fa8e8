import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AUDIT_EVENT_TYPES } from '../../audit/types.ts';
import { UsageError } from '../args.ts';
import { run } from './audit.ts';

test('audit query refuses bad filter flags with a usage error naming the flag', async () => {
  const bad = (argv: string[], message: string) =>
    assert.rejects(run(['query', ...argv]), (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.equal(err.message, message);
      return true;
    });
  await bad(['--access', 'admin'], '--access must be read, write or ddl');
  await bad(['--limit', 'ten'], '--limit must be a number');
  await bad(
    ['--type', 'session.started,nope'],
    `unknown event type "nope" (one of ${AUDIT_EVENT_TYPES.join(', ')})`,
  );
  await bad(['--since', 'yesterday'], 'invalid time "yesterday" (ISO 8601, or relative like 2h)');
  await bad(['--until', 'soon'], 'invalid time "soon" (ISO 8601, or relative like 2h)');
});
