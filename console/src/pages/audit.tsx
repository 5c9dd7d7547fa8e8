import { useEffect, useState } from 'react';
import { reviewOutcomeText } from '../../../src/audit/review-outcome.ts';
import { api, fmtTime } from '../api.ts';
import { link, type Navigate } from '../nav.ts';
import type { CommandRecord } from '../replay/types.ts';

interface Row extends CommandRecord {
  readonly sessionId: string | null;
  readonly connection: string | null;
  readonly actor: { identity: string; owner?: string } | null;
}

interface Verify {
  readonly result:
    | { ok: true; events: number; checkpoints: number; treeSize: number; rootHash: string }
    | { ok: false; seq: number; problem: string; reason: string };
  readonly latestCheckpoint: {
    treeSize: number;
    rootHash: string;
    time: string;
    keyId: string;
  } | null;
  readonly checkedAt: string;
}

const FIELDS = [
  ['identity', 'Identity or owner'],
  ['connection', 'Connection'],
  ['table', 'Table'],
  ['decision', 'Decision'],
  ['since', 'Since (ISO time)'],
  ['until', 'Until (ISO time)'],
] as const;

export function AuditPage({ navigate }: { navigate: Navigate }) {
  const [filter, setFilter] = useState<Record<string, string>>({});
  const [rows, setRows] = useState<Row[] | null>(null);
  const [error, setError] = useState('');
  const query = new URLSearchParams(Object.entries(filter).filter(([, v]) => v.trim() !== ''));
  const run = () => {
    api<{ commands: Row[] }>(`/audit/events?${query}`)
      .then((r) => {
        setRows(r.commands);
        setError('');
      })
      .catch((err: unknown) => setError((err as Error).message));
  };
  return (
    <section aria-labelledby="audit-h">
      <h1 id="audit-h">Audit</h1>
      <VerifyPanel />
      <h2>Query the ledger</h2>
      <form
        className="filters"
        aria-label="Audit query"
        onSubmit={(e) => {
          e.preventDefault();
          run();
        }}
      >
        {FIELDS.map(([key, label]) => (
          <label key={key}>
            {label}
            <input
              name={key}
              value={filter[key] ?? ''}
              onChange={(e) => setFilter({ ...filter, [key]: e.target.value })}
            />
          </label>
        ))}
        <button type="submit" className="primary">
          Run query
        </button>
        <a className="button" href={`/api/audit/export?format=jsonl&${query}`} download>
          Export (JSONL, signed)
        </a>
        <a className="button" href={`/api/audit/export?format=ocsf&${query}`} download>
          Export (OCSF)
        </a>
      </form>
      {error && <p role="alert">{error}</p>}
      {rows && (
        <p role="status">
          {rows.length} statement{rows.length === 1 ? '' : 's'}
        </p>
      )}
      {rows && rows.length > 0 && (
        <table aria-label="Audit results">
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Who</th>
              <th scope="col">Connection</th>
              <th scope="col">Decision</th>
              <th scope="col">Outcome</th>
              <th scope="col">Statement</th>
              <th scope="col">Session</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.commandId}>
                <td>{fmtTime(r.ts)}</td>
                <td>
                  {r.actor?.identity ?? '–'}
                  {r.actor?.owner && r.actor.owner !== r.actor.identity ? (
                    <small> (owner {r.actor.owner})</small>
                  ) : null}
                </td>
                <td>{r.connection ?? '–'}</td>
                <td>
                  <span className={`badge ${String(r.request.decision ?? '')}`}>
                    {String(r.request.decision ?? '')}
                  </span>
                  {r.approval ? (
                    <small>
                      {' '}
                      {reviewOutcomeText(r.approval.type === 'command.approved', r.approval.data)}
                    </small>
                  ) : null}
                </td>
                <td>
                  {r.outcome
                    ? `${String(r.outcome.outcome)} · ${String(r.outcome.rows ?? '–')} rows`
                    : 'pending'}
                </td>
                <td>
                  <code className="clip">
                    {String((r.request.command as { text?: string } | undefined)?.text ?? '')}
                  </code>
                </td>
                <td>
                  {r.sessionId && (
                    <a
                      href={`/sessions/${r.sessionId}`}
                      onClick={link(navigate, `/sessions/${r.sessionId}`)}
                    >
                      replay
                    </a>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function VerifyPanel() {
  const [v, setV] = useState<Verify | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const check = () => {
    setBusy(true);
    api<Verify>('/audit/verify')
      .then((r) => {
        setV(r);
        setError('');
      })
      .catch((err: unknown) => setError((err as Error).message))
      .finally(() => setBusy(false));
  };
  useEffect(check, []);
  const cp = v?.latestCheckpoint;
  return (
    <section className="panel" aria-labelledby="verify-h">
      <h2 id="verify-h">Ledger integrity</h2>
      {error && <p role="alert">{error}</p>}
      {v && (
        <p role="status" className={v.result.ok ? 'good' : 'bad'}>
          {v.result.ok
            ? `Verified: ${v.result.events} events, ${v.result.checkpoints} signed checkpoints, chain and Merkle roots intact.`
            : `FAILED at seq ${v.result.seq}: ${v.result.problem}: ${v.result.reason}`}{' '}
          <small>(checked {fmtTime(v.checkedAt)})</small>
        </p>
      )}
      {cp && (
        <p>
          Latest signed checkpoint: tree size {cp.treeSize}, signed {fmtTime(cp.time)}, key{' '}
          <code>{cp.keyId}</code>, root <code className="clip">{cp.rootHash}</code>
        </p>
      )}
      <button type="button" onClick={check} disabled={busy}>
        {busy ? 'Verifying…' : 'Verify again'}
      </button>
    </section>
  );
}
