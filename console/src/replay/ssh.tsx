// SSH sessions: each terminal recording played in the page (the gateway sends one only when it
// still hashes to the SHA-256 the ledger recorded for it), then each command (shell, exec, SFTP,
// port forward) with its decision, approval and outcome, then the session's other events.
import { useEffect, useState } from 'react';
import { ApiError, apiText } from '../api.ts';
import { commandTimeline, Verdict } from './commands.tsx';
import { TerminalPlayer } from './terminal-player.tsx';
import type { CommandRecord, LedgerEvent, ReplayView, SessionReplay } from './types.ts';

const timeline = commandTimeline(
  'Commands',
  (t) => t.startsWith('command.') || t === 'session.recorded',
  Command,
);

export const sshView: ReplayView = {
  title: 'Terminal and commands',
  render: (replay) => (
    <>
      <Recordings replay={replay} />
      <h3>Commands</h3>
      {timeline(replay)}
    </>
  ),
};

const NOT_RECORDED =
  'No terminal recording. Only interactive sessions are recorded: a shell, or a command run with a terminal (ssh -t), while ssh.recording.enabled is on.';

function Recordings({ replay }: { replay: SessionReplay }) {
  const recorded = replay.events.filter((e) => e.type === 'session.recorded');
  return (
    <>
      <h3>Terminal</h3>
      {recorded.length === 0 && <p className="notice">{NOT_RECORDED}</p>}
      {recorded.map((e) => (
        <Recording
          key={e.seq}
          sessionId={replay.session.id}
          event={e}
          command={textOf(replay, e)}
        />
      ))}
    </>
  );
}

type Loaded = { readonly cast: string } | { readonly error: Error } | undefined;

/** One recording: what the ledger says of it, then the player, or why it is not played. */
function Recording(props: { sessionId: string; event: LedgerEvent; command: string }) {
  const { sessionId, event, command } = props;
  const channel = Number(event.data.channel);
  const [loaded, setLoaded] = useState<Loaded>(undefined);
  useEffect(() => {
    setLoaded(undefined);
    apiText(
      `/audit/sessions/${encodeURIComponent(sessionId)}/recording?channel=${channel}`,
      'application/x-asciicast',
    )
      .then((cast) => setLoaded({ cast }))
      .catch((err: unknown) => setLoaded({ error: err as Error }));
  }, [sessionId, channel]);
  return (
    <div className="recording" id={`recording-${channel}`}>
      <p className="muted">{facts(event, command)}</p>
      {loaded === undefined && <p aria-busy="true">Loading the recording…</p>}
      {loaded && 'error' in loaded && <Refused error={loaded.error} />}
      {loaded && 'cast' in loaded && (
        <>
          <p className="good">SHA-256 matches the ledger (event #{event.seq}).</p>
          <TerminalPlayer cast={loaded.cast} label={`Terminal recording: ${command}`} />
        </>
      )}
    </div>
  );
}

function Refused({ error }: { error: Error }) {
  const code = error instanceof ApiError ? error.code : '';
  if (code === 'GW_RECORDING_UNKNOWN') return <p className="notice">{NOT_RECORDED}</p>;
  if (code === 'GW_RECORDING_ALTERED') {
    return (
      <div role="alert" className="notice bad-notice">
        <p>
          Recording altered: the file no longer matches the SHA-256 the ledger recorded for it, so
          it is not played. Treat it as tampered evidence.
        </p>
        <p className="muted">{error.message}</p>
      </div>
    );
  }
  return (
    <p role="alert">
      The recording could not be loaded: {error.message}
      {code && ` (${code})`}
    </p>
  );
}

/** `channel 0 · interactive shell (xterm 80x24) · 3.2 s · 1.4 kB · sha256 1a2b3c4d5e6f…` */
function facts(e: LedgerEvent, command: string): string {
  const d = e.data;
  const masked = Object.values((d.masked ?? {}) as Record<string, number>).reduce(
    (a, b) => a + b,
    0,
  );
  return [
    `channel ${String(d.channel)}`,
    command,
    `${(Number(d.durationMs ?? 0) / 1000).toFixed(1)} s`,
    size(d.bytes),
    `sha256 ${String(d.sha256 ?? '').slice(0, 12)}…`,
    masked > 0 ? `${masked} secret${masked === 1 ? '' : 's'} masked` : '',
    d.truncated === true ? 'truncated (ssh.recording.max_bytes)' : '',
  ]
    .filter(Boolean)
    .join(' · ');
}

/** The command line the recording belongs to, as the ledger recorded it. */
function textOf(replay: SessionReplay, e: LedgerEvent): string {
  const c = replay.commands.find((x) => x.commandId === e.commandId);
  return String((c?.request.command as { text?: string } | undefined)?.text ?? 'terminal');
}

function Command({ c, replay }: { c: CommandRecord; replay: SessionReplay }) {
  const cmd = c.request.command as { text?: string } | undefined;
  const rec = replay.events.find(
    (e) => e.type === 'session.recorded' && e.commandId === c.commandId,
  );
  return (
    <div className="event">
      <Verdict c={c} />
      <pre className="sql">{cmd?.text ?? ''}</pre>
      <p className="outcome">
        {outcome(c.outcome)}
        {rec && (
          <>
            {' · '}
            <a href={`#recording-${String(rec.data.channel)}`}>terminal recorded</a>
          </>
        )}
      </p>
    </div>
  );
}

/** `ok · exit 0 · 1.2 kB out, 40 B in · 812 ms` */
function outcome(o: Record<string, unknown> | null): string {
  if (!o) return 'no outcome recorded';
  const err = o.error as { code?: string; message?: string } | undefined;
  const exit =
    o.exitSignal !== undefined
      ? `signal ${String(o.exitSignal)}`
      : o.exitStatus !== undefined
        ? `exit ${String(o.exitStatus)}`
        : '';
  return [
    `${String(o.outcome)}${err ? ` ${err.code ?? ''} ${err.message ?? ''}` : ''}`,
    exit,
    `${size(o.bytes)} out, ${size(o.bytesIn)} in`,
    `${String(o.durationMs ?? '–')} ms`,
  ]
    .filter(Boolean)
    .join(' · ');
}

function size(n: unknown): string {
  const b = Number(n ?? 0);
  if (b < 1024) return `${b} B`;
  return b < 1024 * 1024 ? `${(b / 1024).toFixed(1)} kB` : `${(b / 1024 / 1024).toFixed(1)} MB`;
}
