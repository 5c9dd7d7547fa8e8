/**
 * IdP groups → Airlock roles, and groups → connection access. Pure functions over config.
 */
import { ROLES, type Role } from './types.ts';

/** `identity.roles` in airlock.yaml: which groups hold each role. */
export type RoleMapping = { readonly [R in Role]?: readonly string[] | undefined };

/**
 * The roles a set of groups holds. When `user` is not mapped, every authenticated caller is a
 * user; when it is, only members of those groups (and admins) are.
 *
 * @example
 * rolesFor(['dba'], { admin: ['platform'], approver: ['dba'] }); // ['approver', 'user']
 */
export function rolesFor(groups: readonly string[], mapping: RoleMapping): Role[] {
  const held = new Set(groups);
  const roles = ROLES.filter((r) => mapping[r]?.some((g) => held.has(g)));
  if (!roles.includes('user') && (mapping.user === undefined || roles.includes('admin'))) {
    roles.push('user');
  }
  return roles;
}

/**
 * Whether an identity may open a connection: any authenticated user when the connection lists no
 * `allow_groups`, else a member of one of them. Admins get no bypass: access is least privilege.
 *
 * @example
 * mayUseConnection({ groups: ['eng'], roles: ['user'] }, { allow_groups: ['eng'] }); // true
 */
export function mayUseConnection(
  identity: { readonly groups: readonly string[]; readonly roles: readonly Role[] },
  connection: { readonly allow_groups?: readonly string[] | undefined },
): boolean {
  if (!identity.roles.includes('user')) return false;
  const allowed = connection.allow_groups;
  if (allowed === undefined) return true;
  return identity.groups.some((g) => allowed.includes(g));
}
