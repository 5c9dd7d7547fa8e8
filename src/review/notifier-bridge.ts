/**
 * Turns the service's review notices into the webhook payload model (notifier.ts): the statement
 * clipped, the approvers that voted, the impact summary. Nothing else leaves the gateway.
 */
import { ReviewNotifier, type ReviewNotice as WebhookNotice } from './notifier.ts';
import { noticeStatement, type ReviewNotice } from './service.ts';

export { ReviewNotifier };

/**
 * @example
 * notifier.notify(toNotice({ kind: 'review.requested', review }));
 */
export function toNotice(n: ReviewNotice): WebhookNotice {
  const r = n.review;
  const impact = r.impact as { estimatedRows?: number; plan?: string } | null;
  const decidedBy = r.votes.map((v) => v.approver);
  return {
    kind: n.kind,
    review: {
      id: r.id,
      status: r.status,
      connection: r.connection,
      requester: {
        identity: r.requester.identity,
        owner: r.requester.owner,
        kind: r.requester.kind,
      },
      statement: noticeStatement(r.statement),
      tables: [...r.tables],
      ...(r.rule ? { rule: r.rule } : {}),
      ...(r.message ? { message: r.message } : {}),
      approvers: r.approvers.map((a) => ({ groups: [...a.groups], min: a.min })),
      expiresAt: r.expiresAt,
      ...(impact && typeof impact.estimatedRows === 'number'
        ? {
            impact: {
              estimatedRows: impact.estimatedRows,
              ...(impact.plan ? { summary: impact.plan } : {}),
            },
          }
        : {}),
      ...(decidedBy.length > 0 ? { decidedBy } : {}),
      ...(r.reason ? { reason: r.reason } : {}),
    },
  };
}
