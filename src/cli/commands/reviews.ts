import type { Review } from '../../review/store.ts';
import { apiCall, apiTarget } from '../api-client.ts';
import { config, out, parse, str, UsageError } from '../args.ts';
import { bearer } from './login.ts';

export const help = `reviews list [--status pending|approved|denied|expired|cancelled] [--json]
  reviews show ID [--json]
  reviews approve ID [--reason TEXT]     (as your airlock login, or $AIRLOCK_TOKEN)
  reviews deny ID --reason TEXT`;

const FLAGS = {
  status: { type: 'string' },
  reason: { type: 'string' },
  json: { type: 'boolean' },
  api: { type: 'string' },
  issuer: { type: 'string' },
} as const;

/** `airlock reviews list|show|approve|deny`: just-in-time approvals through the gateway's API. */
export async function run(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  const { flags, positionals } = parse(rest, FLAGS);
  const cfg = config(flags);
  const call = async <T>(method: string, path: string, body?: unknown) =>
    apiCall<T>(
      apiTarget(cfg, str(flags, 'api')),
      method,
      path,
      await bearer(cfg, str(flags, 'issuer')),
      body,
    );
  if (verb === 'list') {
    const status = str(flags, 'status');
    const { reviews } = await call<{ reviews: Review[] }>(
      'GET',
      `/api/reviews${status ? `?status=${encodeURIComponent(status)}` : ''}`,
    );
    if (flags.json) for (const r of reviews) out(JSON.stringify(r));
    else printTable(reviews);
    return 0;
  }
  const id = positionals[0];
  if (verb === 'show' || verb === 'approve' || verb === 'deny') {
    if (!id) throw new UsageError(`reviews ${verb} needs a review id`);
    if (verb === 'show') {
      const r = await call<Review>('GET', `/api/reviews/${encodeURIComponent(id)}`);
      out(flags.json ? JSON.stringify(r) : describe(r));
      return 0;
    }
    const reason = str(flags, 'reason') ?? '';
    if (verb === 'deny' && !reason) throw new UsageError('reviews deny needs --reason');
    const r = await call<Review>('POST', `/api/reviews/${encodeURIComponent(id)}/${verb}`, {
      reason,
    });
    process.stderr.write(`review ${r.id}: ${r.status}\n`);
    return 0;
  }
  throw new UsageError(`unknown reviews command "${verb ?? ''}"`);
}

function printTable(reviews: readonly Review[]): void {
  out(['ID', 'STATUS', 'KIND', 'CONNECTION', 'REQUESTER', 'OWNER', 'STATEMENT'].join('\t'));
  for (const r of reviews) {
    const text = r.statement.replace(/\s+/g, ' ').slice(0, 60);
    out(
      [r.id, r.status, r.kind, r.connection, r.requester.identity, r.requester.owner, text].join(
        '\t',
      ),
    );
  }
}

function describe(r: Review): string {
  const impact = r.impact as { estimatedRows?: number; plan?: string; unavailable?: string } | null;
  const lines = [
    `review     ${r.id} (${r.kind}) ${r.status}`,
    `requester  ${r.requester.identity} (${r.requester.kind}, owner ${r.requester.owner})`,
    `connection ${r.connection}${r.sessionId ? `, session ${r.sessionId}` : ''}`,
    `rule       ${r.rule ?? '-'}${r.message ? `: ${r.message}` : ''}`,
    `approvers  ${r.approvers.map((a) => `${a.min} of ${a.groups.join('|')}`).join(' or ')}`,
    `tables     ${r.tables.join(', ') || '-'}`,
    `impact     ${impact ? (impact.estimatedRows !== undefined ? `~${impact.estimatedRows} rows (${impact.plan ?? ''})` : `unavailable: ${impact.unavailable ?? ''}`) : '-'}`,
    `expires    ${new Date(r.expiresAt).toISOString()}`,
    `fingerprint ${r.fingerprint}`,
    '',
    r.statement,
  ];
  for (const v of r.votes) {
    lines.push(
      `vote       ${v.decision} by ${v.approver} at ${new Date(v.at).toISOString()}: ${v.reason}`,
    );
  }
  return lines.join('\n');
}
