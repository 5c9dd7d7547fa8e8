import { useEffect, useState } from 'react';
import { api, fmtTime, hasRole, type Me } from '../api.ts';

export interface Review {
  readonly id: string;
  readonly kind: 'command' | 'grant';
  readonly status: 'pending' | 'approved' | 'denied' | 'expired' | 'cancelled';
  readonly connection: string;
  readonly sessionId: string | null;
  readonly requester: { identity: string; owner: string; kind: string; groups: string[] };
  readonly statement: string;
  readonly tables: readonly string[];
  readonly rule: string | null;
  readonly message: string | null;
  readonly approvers: readonly { groups: string[]; min: number }[];
  readonly impact: Record<string, unknown> | null;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly decidedAt: number | null;
  readonly reason: string | null;
  readonly votes: readonly { approver: string; decision: string; reason: string; at: number }[];
}

/** Live list: server-sent events from /api/reviews/events (the browser reconnects by itself). */
function useReviews(): { reviews: Review[]; live: boolean } {
  const [reviews, setReviews] = useState<Review[]>([]);
  const [live, setLive] = useState(false);
  useEffect(() => {
    const source = new EventSource('/api/reviews/events');
    source.addEventListener('reviews', (e) => {
      setReviews((JSON.parse((e as MessageEvent<string>).data) as { reviews: Review[] }).reviews);
      setLive(true);
    });
    source.onerror = () => setLive(false);
    return () => source.close();
  }, []);
  return { reviews, live };
}

export function ReviewsPage({ me }: { me: Me }) {
  const { reviews, live } = useReviews();
  const pending = reviews.filter((r) => r.status === 'pending');
  const decided = reviews.filter((r) => r.status !== 'pending');
  const canDecide = hasRole(me, 'approver', 'admin');
  return (
    <section aria-labelledby="reviews-h">
      <h1 id="reviews-h">
        Reviews{' '}
        <span className={`badge ${live ? 'ok' : ''}`} role="status">
          {live ? 'live' : 'connecting…'}
        </span>
      </h1>
      <h2>Pending ({pending.length})</h2>
      {pending.length === 0 && <p className="muted">Nothing waits for a decision.</p>}
      <ul className="cards" aria-label="Pending reviews">
        {pending.map((r) => (
          <li key={r.id}>
            <ReviewCard review={r} canDecide={canDecide} />
          </li>
        ))}
      </ul>
      <h2>Recently decided</h2>
      <table>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Status</th>
            <th scope="col">Requester</th>
            <th scope="col">Connection</th>
            <th scope="col">Statement</th>
            <th scope="col">Reason</th>
          </tr>
        </thead>
        <tbody>
          {decided.map((r) => (
            <tr key={r.id}>
              <td>{fmtTime(r.decidedAt ?? r.createdAt)}</td>
              <td>
                <span className={`badge ${r.status}`}>{r.status}</span>
              </td>
              <td>{r.requester.identity}</td>
              <td>{r.connection}</td>
              <td>
                <code className="clip">{r.statement}</code>
              </td>
              <td>{r.reason ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function ReviewCard({ review: r, canDecide }: { review: Review; canDecide: boolean }) {
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const decide = async (verb: 'approve' | 'deny') => {
    setBusy(true);
    setError('');
    try {
      await api(`/reviews/${r.id}/${verb}`, { method: 'POST', body: { reason } });
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const reasonId = `reason-${r.id}`;
  return (
    <article className="card" aria-label={`Review ${r.id}`}>
      <header>
        <strong>{r.kind === 'grant' ? 'Access request' : 'Held statement'}</strong> on{' '}
        <strong>{r.connection}</strong> · rule <code>{r.rule ?? '–'}</code> · expires{' '}
        {fmtTime(r.expiresAt)}
      </header>
      <pre className="sql" title="Exact command">
        {r.statement}
      </pre>
      {r.message && <p>{r.message}</p>}
      <dl className="facts">
        <dt>Requester</dt>
        <dd>
          {r.requester.identity} ({r.requester.kind})
        </dd>
        <dt>Owner</dt>
        <dd>{r.requester.owner}</dd>
        <dt>Tables</dt>
        <dd>{r.tables.join(', ') || '–'}</dd>
        <dt>Impact</dt>
        <dd>{impactText(r.impact)}</dd>
        <dt>Approvers</dt>
        <dd>{r.approvers.map((a) => `${a.min} of ${a.groups.join('/')}`).join(' and ')}</dd>
        <dt>Votes</dt>
        <dd>{r.votes.map((v) => `${v.approver}: ${v.decision}`).join(', ') || 'none yet'}</dd>
      </dl>
      {canDecide && (
        <form
          className="decide"
          onSubmit={(e) => {
            e.preventDefault();
          }}
        >
          <label htmlFor={reasonId}>Reason</label>
          <input
            id={reasonId}
            value={reason}
            onChange={(e) => setReason(e.target.value)}
            placeholder="Why (required to deny)"
          />
          <button
            type="button"
            className="primary"
            disabled={busy}
            onClick={() => void decide('approve')}
          >
            Approve
          </button>
          <button
            type="button"
            className="danger"
            disabled={busy || reason.trim() === ''}
            onClick={() => void decide('deny')}
          >
            Deny
          </button>
        </form>
      )}
      {error && <p role="alert">{error}</p>}
    </article>
  );
}

function impactText(impact: Record<string, unknown> | null): string {
  if (!impact) return 'not estimated';
  if (typeof impact.unavailable === 'string') return `unavailable (${impact.unavailable})`;
  if (typeof impact.estimatedRows === 'number') return `~${impact.estimatedRows} rows (EXPLAIN)`;
  return JSON.stringify(impact).slice(0, 200);
}
