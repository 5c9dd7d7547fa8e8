/**
 * The ledger filter as people spell it: `airlock audit query` flags and the API's query
 * parameters name the same fields (`connection`, `identity`, `owner`, `session`, `type`,
 * `decision`, `table`, `access`, `since`, `until`, `limit`) and check them the same way. Each
 * caller says how it reads a value, parses a time and reports a bad value.
 */
import { AUDIT_EVENT_TYPES, type AuditEventType, type AuditFilter } from './types.ts';

/** How one caller spells the filter. */
export interface FilterSyntax {
  /** A parameter's value, or undefined when it is absent. */
  readonly get: (name: string) => string | undefined;
  /** A non-empty `since` or `until` value as ms since the epoch; throws when it is not a time. */
  readonly time: (value: string, name: 'since' | 'until') => number;
  /** The error for a bad value; the message already names the parameter (see `label`). */
  readonly invalid: (message: string) => Error;
  /** A parameter's name as messages give it: `--limit` for a flag, `limit` for a query. */
  readonly label: (name: string) => string;
  /** The largest `limit` taken; none when absent. */
  readonly maxLimit?: number;
  /** Whether the message for an unknown event type lists the known ones. */
  readonly listTypes?: boolean;
}

/** Statements (or events) a query returns when it names no `limit`. */
const DEFAULT_LIMIT = 200;
const ACCESS = ['read', 'write', 'ddl'] as const;

/**
 * @example
 * const q = new URLSearchParams('connection=clinic&type=command.requested&since=1740830400000');
 * const filter = parseAuditFilter({
 *   get: (name) => q.get(name) ?? undefined,
 *   time: (v) => Number(v),
 *   invalid: (message) => new Error(message),
 *   label: (name) => name,
 * });
 * // { connection: 'clinic', types: ['command.requested'], since: 1740830400000, limit: 200 }
 */
export function parseAuditFilter(syntax: FilterSyntax): AuditFilter {
  const f: { -readonly [K in keyof AuditFilter]: AuditFilter[K] } = {};
  const set = <K extends keyof AuditFilter>(k: K, v: AuditFilter[K] | undefined): void => {
    if (v !== undefined) f[k] = v;
  };
  set('connection', syntax.get('connection'));
  set('identity', syntax.get('identity'));
  set('owner', syntax.get('owner'));
  set('sessionId', syntax.get('session'));
  set('types', typesOf(syntax));
  set('decision', syntax.get('decision'));
  set('table', syntax.get('table'));
  set('access', accessOf(syntax));
  set('since', timeOf(syntax, 'since'));
  set('until', timeOf(syntax, 'until'));
  set('limit', limitOf(syntax));
  return f;
}

function typesOf(syntax: FilterSyntax): AuditEventType[] | undefined {
  const list = syntax.get('type');
  if (list === undefined) return undefined;
  const types = list.split(',').map((t) => t.trim());
  for (const t of types) {
    if (!(AUDIT_EVENT_TYPES as readonly string[]).includes(t)) {
      const known = syntax.listTypes ? ` (one of ${AUDIT_EVENT_TYPES.join(', ')})` : '';
      throw syntax.invalid(`unknown event type "${t.slice(0, 40)}"${known}`);
    }
  }
  return types as AuditEventType[];
}

function accessOf(syntax: FilterSyntax): AuditFilter['access'] {
  const access = syntax.get('access');
  if (access !== undefined && !(ACCESS as readonly string[]).includes(access)) {
    throw syntax.invalid(`${syntax.label('access')} must be read, write or ddl`);
  }
  return access as AuditFilter['access'];
}

function timeOf(syntax: FilterSyntax, name: 'since' | 'until'): number | undefined {
  const v = syntax.get(name);
  return v ? syntax.time(v, name) : undefined;
}

function limitOf(syntax: FilterSyntax): number {
  const limit = syntax.get('limit');
  if (limit === undefined) return DEFAULT_LIMIT;
  const max = syntax.maxLimit;
  if (!/^\d+$/.test(limit) || (max !== undefined && Number(limit) > max)) {
    throw syntax.invalid(`${syntax.label('limit')} must be a number${max ? ` up to ${max}` : ''}`);
  }
  return Number(limit);
}
