/**
 * Provenance: a command names the LLM response it follows from, so the ledger can link
 * "this prompt → this response → these statements". The id is the `c_…` event id Airlock returns
 * with every LLM response (`x-airlock-event-id`). Clients pass it back as:
 * - an HTTP header `x-airlock-caused-by: c_…` (set by the engine on the command),
 * - a SQL comment anywhere in the statement: `/* airlock:caused-by=c_… *\/` or `-- caused-by=c_…`,
 * - the PostgreSQL `application_name` of the session: `my-agent caused-by=c_…`.
 * The id is a claim by the client: `airlock audit query --caused-by` shows who made it.
 */
import type { Command } from './command.ts';
import type { SessionContext } from './context.ts';

const ID = 'c_[0-9a-f]{30}';
const TAG = new RegExp(
  `(?:^|[^A-Za-z0-9_-])(?:airlock:)?caused[-_]by[=:]\\s*(${ID})(?![0-9a-f])`,
  'i',
);

/**
 * The event id a text names with `caused-by=`, or undefined.
 *
 * @example
 * causedByIn('select 1 /* airlock:caused-by=c_0194a2b3c4d5e6f708192a3b4c5d6e * /'); // 'c_0194…'
 */
export function causedByIn(text: string | undefined): string | undefined {
  if (text === undefined || text.length === 0) return undefined;
  const m = TAG.exec(text.length > 1_000_000 ? text.slice(0, 1_000_000) : text);
  return m?.[1]?.toLowerCase();
}

/** Whether `id` has the shape of an Airlock event id. */
export function isEventId(id: string): boolean {
  return new RegExp(`^${ID}$`).test(id);
}

/**
 * The provenance of a command: its own claim (header, SQL comment), else the session's.
 *
 * @example
 * causedByOf(ctx, { kind: 'sql', text: '-- caused-by=c_…\nDELETE FROM t', params: null, protocol: 'simple' });
 */
export function causedByOf(ctx: SessionContext, command: Command): string | undefined {
  if (command.kind === 'http') return command.causedBy ?? ctx.causedBy;
  return causedByIn(command.text) ?? ctx.causedBy;
}
