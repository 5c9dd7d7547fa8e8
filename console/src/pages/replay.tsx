import { useEffect, useState } from 'react';
import { api } from '../api.ts';
import { link, type Navigate } from '../nav.ts';
import { viewFor } from '../replay/registry.ts';
import type { SessionReplay } from '../replay/types.ts';

export function ReplayPage({ id, navigate }: { id: string; navigate: Navigate }) {
  const [replay, setReplay] = useState<SessionReplay | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    api<SessionReplay>(`/audit/sessions/${encodeURIComponent(id)}`)
      .then(setReplay)
      .catch((err: unknown) => setError((err as Error).message));
  }, [id]);
  if (error) return <p role="alert">{error}</p>;
  if (!replay) return <p aria-busy="true">Loading session…</p>;
  const view = viewFor(replay.session.protocol);
  const s = replay.session;
  const masked = Object.entries(replay.masking);
  return (
    <section aria-labelledby="replay-h">
      <p>
        <a href="/sessions" onClick={link(navigate, '/sessions')}>
          ← Sessions
        </a>
      </p>
      <h1 id="replay-h">Session {s.id}</h1>
      <dl className="facts">
        <dt>Identity</dt>
        <dd>{s.actor?.identity ?? '–'}</dd>
        <dt>Owner</dt>
        <dd>{s.actor?.owner ?? '–'}</dd>
        <dt>Connection</dt>
        <dd>{s.connection ?? '–'}</dd>
        <dt>Protocol</dt>
        <dd>{s.protocol}</dd>
        <dt>Client</dt>
        <dd>{s.clientAddr ?? '–'}</dd>
        <dt>
          {s.protocol === 'postgres'
            ? 'Statements'
            : s.protocol === 'http'
              ? 'Requests'
              : 'Commands'}
        </dt>
        <dd>{replay.commands.length}</dd>
        <dt>Masking</dt>
        <dd>
          {masked.length === 0 ? 'nothing masked' : masked.map(([k, v]) => `${k}: ${v}`).join(', ')}
        </dd>
      </dl>
      <h2>{view.title}</h2>
      {view.render(replay)}
    </section>
  );
}
