import { fmtTime } from '../api.ts';
import type { LedgerEvent, ReplayView } from './types.ts';

/** Any session: every ledger event in order, with its payload summarised. */
export const genericView: ReplayView = {
  title: 'Event timeline',
  render: (replay) => (
    <ol className="timeline" aria-label="Session events">
      {replay.events.map((e) => (
        <li key={e.seq}>
          <EventLine event={e} />
        </li>
      ))}
    </ol>
  ),
};

export function EventLine({ event: e }: { event: LedgerEvent }) {
  return (
    <div className="event">
      <time dateTime={e.ts}>{fmtTime(e.ts)}</time> <span className="type">{e.type}</span>{' '}
      <span className="muted">#{e.seq}</span>
      <pre className="payload">{summary(e.data)}</pre>
    </div>
  );
}

function summary(data: Record<string, unknown>): string {
  const text = JSON.stringify(data, null, 1);
  return text.length > 600 ? `${text.slice(0, 600)}…` : text;
}
