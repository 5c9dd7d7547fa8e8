import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mayUseConnection, rolesFor } from './roles.ts';

describe('rolesFor', () => {
  const mapping = {
    admin: ['platform'],
    approver: ['dba-leads'],
    auditor: ['compliance'],
  };

  test('maps groups to roles; everyone is a user when user is not mapped', () => {
    assert.deepEqual(rolesFor([], mapping), ['user']);
    assert.deepEqual(rolesFor(['dba-leads', 'other'], mapping), ['approver', 'user']);
    assert.deepEqual(rolesFor(['platform', 'compliance'], mapping), ['admin', 'auditor', 'user']);
  });

  test('a mapped user role is held only by its groups (and admins)', () => {
    const strict = { ...mapping, user: ['engineering'] };
    assert.deepEqual(rolesFor(['contractors'], strict), []);
    assert.deepEqual(rolesFor(['compliance'], strict), ['auditor']);
    assert.deepEqual(rolesFor(['engineering'], strict), ['user']);
    assert.deepEqual(rolesFor(['platform'], strict), ['admin', 'user']);
  });
});

describe('mayUseConnection', () => {
  test('open connections admit any user; allow_groups admit members only', () => {
    const eng = { groups: ['eng'], roles: ['user'] as const };
    assert.equal(mayUseConnection(eng, {}), true);
    assert.equal(mayUseConnection(eng, { allow_groups: ['eng', 'sre'] }), true);
    assert.equal(mayUseConnection(eng, { allow_groups: ['clinicians'] }), false);
  });

  test('no user role means no connection, and admin is no bypass', () => {
    assert.equal(mayUseConnection({ groups: ['eng'], roles: ['auditor'] }, {}), false);
    const admin = { groups: ['platform'], roles: ['admin', 'user'] as const };
    assert.equal(mayUseConnection(admin, { allow_groups: ['clinicians'] }), false);
  });
});
