import { fmtTime } from '../api.ts';
import { EventLine } from './generic.tsx';
import type { CommandRecord, ReplayView } from './types.ts';

/** SQL sessions: each statement with its decision, approval and outcome, then other events. */
export const sqlView: ReplayView = {
  title: 'SQL timeline',
  render: (replay) => {
    const other = replay.events.filter((e) => !e.type.startsWith('command.'));
    return (
      <>
        <ol className="timeline" aria-label="Statements">
          {replay.commands.map((c) => (
            <li key={c.commandId}>
              <Statement c={c} />
            </li>
          ))}
        </ol>
        <h3>Session events</h3>
        <ol className="timeline" aria-label="Other session events">
          {other.map((e) => (
            <li key={e.seq}>
              <EventLine event={e} />
            </li>
          ))}
        </ol>
      </>
    );
  },
};

function Statement({ c }: { c: CommandRecord }) {
  const cmd = c.request.command as { text?: string } | undefined;
  const decision = String(c.request.decision ?? '');
  const o = c.outcome;
  const err = o?.error as { code?: string; message?: string } | undefined;
  return (
    <div className="event">
      <time dateTime={c.ts}>{fmtTime(c.ts)}</time>{' '}
      <span className={`badge ${decision}`}>{decision}</span>
      {c.request.rule ? <span className="muted"> rule {String(c.request.rule)}</span> : null}
      {c.approval && (
        <span className={`badge ${c.approval.type === 'command.approved' ? 'approved' : 'denied'}`}>
          {c.approval.type === 'command.approved' ? 'approved' : 'rejected'} by{' '}
          {String(c.approval.data.approver ?? c.approval.data.approvers ?? '?')}
        </span>
      )}
      <pre className="sql">{cmd?.text ?? ''}</pre>
      <p className="outcome">
        {o
          ? `${String(o.outcome)}${err ? ` ${err.code ?? ''} ${err.message ?? ''}` : ''}${Array.isArray(o.tags) && o.tags.length > 0 ? ` · ${o.tags.join(', ')}` : ''} · rows returned ${String(o.rows ?? '–')} · ${String(o.durationMs ?? '–')} ms${o.masked ? ` · masked ${JSON.stringify(o.masked)}` : ''}`
          : 'no outcome recorded'}
      </p>
    </div>
  );
}
