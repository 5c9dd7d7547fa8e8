/**
 * How a held command's review ended, from its `command.approved` or `command.rejected` event.
 * `command.rejected` covers every end but an approval; its `data.status` says which: `denied` (an
 * approver said no), `expired` (nobody decided in time), `cancelled` (the client went away, or
 * the gateway stopped or restarted first; `data.reason` says which) or `refused` (approved, then
 * over its budget). Only a denial was decided by someone, so only a denial reads "rejected by".
 *
 * The CLI, the OCSF export and the web console (console/src, bundled by Vite) all import this
 * file, so it stays free of Node APIs (the console's typecheck has no Node types).
 */

export type ReviewEnd = 'approved' | 'denied' | 'expired' | 'cancelled' | 'refused';

const UNDECIDED: ReadonlySet<unknown> = new Set(['expired', 'cancelled', 'refused']);

/**
 * The end a review outcome event records; a rejection without `data.status` is a denial.
 *
 * @example
 * reviewEndOf(false, { status: 'cancelled', reason: 'the gateway is shutting down' }); // 'cancelled'
 */
export function reviewEndOf(approved: boolean, data: Readonly<Record<string, unknown>>): ReviewEnd {
  if (approved) return 'approved';
  return UNDECIDED.has(data.status) ? (data.status as ReviewEnd) : 'denied';
}

/**
 * `approved by dana@example.com`, `rejected by dana@example.com`, `expired`, `cancelled: <reason>`
 * or `refused: <reason>`; with `reasons`, the reason follows every one of them.
 *
 * @example
 * reviewOutcomeText(false, { status: 'cancelled', reason: 'the gateway is shutting down' });
 * // 'cancelled: the gateway is shutting down'
 * reviewOutcomeText(false, { status: 'denied', deniedBy: 'dana@example.com', reason: 'no' });
 * // 'rejected by dana@example.com'
 */
export function reviewOutcomeText(
  approved: boolean,
  data: Readonly<Record<string, unknown>>,
  opts: { readonly reasons?: boolean } = {},
): string {
  const end = reviewEndOf(approved, data);
  const reason = typeof data.reason === 'string' && data.reason !== '' ? data.reason : undefined;
  const told = opts.reasons || end === 'cancelled' || end === 'refused';
  const because = reason !== undefined && told ? `: ${reason}` : '';
  switch (end) {
    case 'approved':
      return `approved${byOf(data.approver ?? data.approvers)}${because}`;
    case 'denied':
      return `rejected${byOf(data.deniedBy ?? data.approver)}${because}`;
    default:
      return `${end}${because}`;
  }
}

/** ` by a, b` for a name or a list of names; nothing when there is none. */
function byOf(who: unknown): string {
  const names = (Array.isArray(who) ? who : [who]).filter(
    (n): n is string => typeof n === 'string' && n !== '',
  );
  return names.length > 0 ? ` by ${names.join(', ')}` : '';
}
