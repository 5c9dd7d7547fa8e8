import { useEffect, useState } from 'react';
import { api, fmtTime, type Me } from '../api.ts';

interface Token {
  readonly id: string;
  readonly name: string;
  readonly owner: string;
  readonly purpose: string;
  readonly groups: string[];
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly revokedAt: number | null;
  readonly ownerProof?: string;
}

export function TokensPage({ me }: { me: Me }) {
  const [tokens, setTokens] = useState<Token[] | null>(null);
  const [error, setError] = useState('');
  const [note, setNote] = useState('');
  const load = () => {
    api<{ tokens: Token[] }>('/tokens')
      .then((r) => setTokens(r.tokens))
      .catch((err: unknown) => setError((err as Error).message));
  };
  useEffect(load, []);
  const revoke = async (t: Token) => {
    if (!window.confirm(`Revoke ${t.name} (${t.id})? Its live sessions end at once.`)) return;
    try {
      await api(`/tokens/${t.id}`, { method: 'DELETE' });
      setNote(`Revoked ${t.name}.`);
      load();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <section aria-labelledby="tokens-h">
      <h1 id="tokens-h">Tokens</h1>
      <p className="muted">
        Agent tokens owned by{' '}
        {me.roles.includes('admin') ? 'everyone (you are an admin)' : me.owner}. Mint new ones with{' '}
        <code>airlock token create</code>.
      </p>
      {error && <p role="alert">{error}</p>}
      {note && <p role="status">{note}</p>}
      {tokens && tokens.length === 0 && <p>No tokens.</p>}
      {tokens && tokens.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Agent</th>
              <th scope="col">Id</th>
              <th scope="col">Owner</th>
              <th scope="col">Purpose</th>
              <th scope="col">Groups</th>
              <th scope="col">Expires</th>
              <th scope="col">State</th>
            </tr>
          </thead>
          <tbody>
            {tokens.map((t) => (
              <tr key={t.id}>
                <td>{t.name}</td>
                <td>
                  <code>{t.id}</code>
                </td>
                <td>{t.owner}</td>
                <td>{t.purpose}</td>
                <td>{t.groups.join(', ')}</td>
                <td>{fmtTime(t.expiresAt)}</td>
                <td>
                  {t.revokedAt ? (
                    <span className="badge denied">revoked</span>
                  ) : t.expiresAt < Date.now() ? (
                    <span className="badge expired">expired</span>
                  ) : (
                    <button type="button" className="danger" onClick={() => void revoke(t)}>
                      Revoke {t.name}
                    </button>
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
