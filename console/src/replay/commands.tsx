// What the command-based views (SQL, HTTP/LLM, SSH) share: commands in order, then the session's other
// events; and the line that says how each command was decided, a held one's review in the words of
// the CLI (src/audit/review-outcome.ts, which the console imports).
import { reviewEndOf, reviewOutcomeText } from '../../../src/audit/review-outcome.ts';
import { fmtTime } from '../api.ts';
import { EventLine } from './generic.tsx';
import type { CommandRecord, SessionReplay } from './types.ts';

/**
 * A `render` for ReplayView: one `Item` per command (given the whole replay too, for the events
 * that belong to it), then every event that is not one of the commands' own (`own(type)` true).
 */
export function commandTimeline(
  label: string,
  own: (type: string) => boolean,
  Item: (props: { c: CommandRecord; replay: SessionReplay }) => React.ReactNode,
): (replay: SessionReplay) => React.ReactNode {
  return (replay) => {
    const other = replay.events.filter((e) => !own(e.type));
    return (
      <>
        <ol className="timeline" aria-label={label}>
          {replay.commands.map((c) => (
            <li key={c.commandId}>
              <Item c={c} replay={replay} />
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
  };
}

/** Time, decision, rule and the approval of a command. */
export function Verdict({ c }: { c: CommandRecord }) {
  const decision = String(c.request.decision ?? '');
  return (
    <>
      <time dateTime={c.ts}>{fmtTime(c.ts)}</time>{' '}
      <span className={`badge ${decision}`}>{decision}</span>
      {c.request.rule ? <span className="muted"> rule {String(c.request.rule)}</span> : null}
      {c.approval && <ReviewOutcome approval={c.approval} />}
    </>
  );
}

/** How a held command's review ended: `approved by …`, `rejected by …`, `expired`, `cancelled: …`. */
function ReviewOutcome({ approval }: { approval: NonNullable<CommandRecord['approval']> }) {
  const approved = approval.type === 'command.approved';
  return (
    <span className={`badge ${reviewEndOf(approved, approval.data)}`}>
      {reviewOutcomeText(approved, approval.data)}
    </span>
  );
}
