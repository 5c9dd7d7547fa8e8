import { useEffect, useState } from 'react';
import { api, fmtTime } from '../api.ts';
import { link, type Navigate } from '../nav.ts';

interface SessionRow {
  readonly id: string;
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly connection: string | null;
  readonly identity: string | null;
  readonly owner: string | null;
  readonly protocol: string;
  readonly clientAddr: string | null;
}

const FIELDS = [
  { key: 'identity', label: 'Identity or owner', type: 'text' },
  { key: 'connection', label: 'Connection', type: 'text' },
  { key: 'since', label: 'Since', type: 'datetime-local' },
  { key: 'until', label: 'Until', type: 'datetime-local' },
] as const;

export function SessionsPage({ navigate }: { navigate: Navigate }) {
  const [filter, setFilter] = useState<Record<string, string>>({});
  const [rows, setRows] = useState<SessionRow[] | null>(null);
  const [error, setError] = useState('');
  const load = (f: Record<string, string>) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(f)) {
      if (!v) continue;
      q.set(k, k === 'since' || k === 'until' ? new Date(v).toISOString() : v);
    }
    api<{ sessions: SessionRow[] }>(`/audit/sessions?${q}`)
      .then((r) => {
        setRows(r.sessions);
        setError('');
      })
      .catch((err: unknown) => setError((err as Error).message));
  };
  // biome-ignore lint/correctness/useExhaustiveDependencies: load once on mount; the form reloads
  useEffect(() => load({}), []);
  return (
    <section aria-labelledby="sessions-h">
      <h1 id="sessions-h">Sessions</h1>
      <form
        className="filters"
        aria-label="Filter sessions"
        onSubmit={(e) => {
          e.preventDefault();
          load(filter);
        }}
      >
        {FIELDS.map((f) => (
          <label key={f.key}>
            {f.label}
            <input
              type={f.type}
              value={filter[f.key] ?? ''}
              onChange={(e) => setFilter({ ...filter, [f.key]: e.target.value })}
            />
          </label>
        ))}
        <label>
          Decision
          <select
            value={filter.decision ?? ''}
            onChange={(e) => setFilter({ ...filter, decision: e.target.value })}
          >
            <option value="">any</option>
            <option value="allow">allow</option>
            <option value="deny">deny</option>
            <option value="hold">hold (review)</option>
            <option value="mask">mask</option>
          </select>
        </label>
        <button type="submit" className="primary">
          Filter
        </button>
      </form>
      {error && <p role="alert">{error}</p>}
      {rows && rows.length === 0 && <p className="muted">No sessions match.</p>}
      {rows && rows.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Started</th>
              <th scope="col">Identity</th>
              <th scope="col">Owner</th>
              <th scope="col">Connection</th>
              <th scope="col">Protocol</th>
              <th scope="col">Ended</th>
              <th scope="col">Replay</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((s) => (
              <tr key={s.id}>
                <td>{fmtTime(s.startedAt)}</td>
                <td>{s.identity ?? '–'}</td>
                <td>{s.owner ?? '–'}</td>
                <td>{s.connection ?? '–'}</td>
                <td>{s.protocol}</td>
                <td>{s.endedAt ? fmtTime(s.endedAt) : <span className="badge ok">live</span>}</td>
                <td>
                  <a href={`/sessions/${s.id}`} onClick={link(navigate, `/sessions/${s.id}`)}>
                    Open {s.id}
                  </a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
