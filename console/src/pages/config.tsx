import { useEffect, useState } from 'react';
import { api, fmtTime } from '../api.ts';

interface Connection {
  readonly name: string;
  readonly type: string;
  /** postgres and ssh connections. */
  readonly host?: string;
  readonly port?: number;
  /** postgres only. */
  readonly database?: string;
  readonly user?: string;
  readonly ssl?: string;
  /** http and llm connections (without credentials). */
  readonly url?: string;
  readonly allowGroups: string[] | null;
  readonly labels: Record<string, string>;
}

interface Rule {
  readonly name: string;
  readonly action?: string;
  readonly match?: unknown;
  readonly message?: string;
  readonly hits: number;
  readonly lastHit?: string | null;
}

interface PolicyAnswer {
  readonly policy: { file: string; hash: string; version: number } | null;
  readonly rules: Rule[];
  readonly defaults?: Rule & Record<string, unknown>;
}

/** Where a connection goes: a database, an SSH server, or an API URL. */
function target(c: Connection): string {
  if (c.url !== undefined) return c.url;
  const at = `${c.host ?? ''}:${c.port ?? ''}`;
  return c.database === undefined ? at : `${at}/${c.database}`;
}

export function ConfigPage() {
  const [conns, setConns] = useState<Connection[] | null>(null);
  const [policy, setPolicy] = useState<PolicyAnswer | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    api<{ connections: Connection[] }>('/connections')
      .then((r) => setConns(r.connections))
      .catch((err: unknown) => setError((err as Error).message));
    api<PolicyAnswer>('/policy')
      .then(setPolicy)
      .catch((err: unknown) => setError((err as Error).message));
  }, []);
  return (
    <section aria-labelledby="config-h">
      <h1 id="config-h">Connections and policies</h1>
      <p className="muted">Read-only: change them in airlock.yaml and the policy file (in git).</p>
      {error && <p role="alert">{error}</p>}
      <h2>Connections</h2>
      <table>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Type</th>
            <th scope="col">Target</th>
            <th scope="col">Upstream user</th>
            <th scope="col">TLS</th>
            <th scope="col">Allowed groups</th>
            <th scope="col">Labels</th>
          </tr>
        </thead>
        <tbody>
          {conns?.map((c) => (
            <tr key={c.name}>
              <td>{c.name}</td>
              <td>{c.type}</td>
              <td>{target(c)}</td>
              <td>{c.user ?? ''}</td>
              <td>{c.ssl ?? ''}</td>
              <td>{c.allowGroups?.join(', ') ?? 'any user'}</td>
              <td>
                {Object.entries(c.labels)
                  .map(([k, v]) => `${k}=${v}`)
                  .join(', ')}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Policy</h2>
      {policy?.policy === null && <p>No policy file: every command is allowed (and recorded).</p>}
      {policy?.policy && (
        <p>
          <code>{policy.policy.file}</code> · version {policy.policy.version} · sha256{' '}
          <code className="clip">{policy.policy.hash}</code>
        </p>
      )}
      {policy && policy.rules.length > 0 && (
        <table aria-label="Policy rules">
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Rule</th>
              <th scope="col">Action</th>
              <th scope="col">Match</th>
              <th scope="col">Hits</th>
              <th scope="col">Last hit</th>
            </tr>
          </thead>
          <tbody>
            {[...policy.rules, ...(policy.defaults ? [policy.defaults] : [])].map((r, i) => (
              <tr key={r.name}>
                <td>{r.name === 'default' ? '–' : i + 1}</td>
                <td>
                  {r.name}
                  {r.message && <div className="muted">{r.message}</div>}
                </td>
                <td>
                  <span className={`badge ${r.action ?? ''}`}>{r.action ?? '–'}</span>
                </td>
                <td>
                  <code className="clip">{r.match ? JSON.stringify(r.match) : '(default)'}</code>
                </td>
                <td>{r.hits}</td>
                <td>{fmtTime(r.lastHit)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
