import { commandTimeline, Verdict } from './commands.tsx';
import type { CommandRecord, ReplayView } from './types.ts';

/** SQL sessions: each statement with its decision, approval and outcome, then other events. */
export const sqlView: ReplayView = {
  title: 'SQL timeline',
  render: commandTimeline('Statements', (t) => t.startsWith('command.'), Statement),
};

function Statement({ c }: { c: CommandRecord }) {
  const cmd = c.request.command as { text?: string } | undefined;
  const o = c.outcome;
  const err = o?.error as { code?: string; message?: string } | undefined;
  return (
    <div className="event">
      <Verdict c={c} />
      <pre className="sql">{cmd?.text ?? ''}</pre>
      <p className="outcome">
        {o
          ? `${String(o.outcome)}${err ? ` ${err.code ?? ''} ${err.message ?? ''}` : ''}${Array.isArray(o.tags) && o.tags.length > 0 ? ` · ${o.tags.join(', ')}` : ''} · rows returned ${String(o.rows ?? '–')} · ${String(o.durationMs ?? '–')} ms${o.masked ? ` · masked ${JSON.stringify(o.masked)}` : ''}`
          : 'no outcome recorded'}
      </p>
    </div>
  );
}
