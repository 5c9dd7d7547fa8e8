import { StrictMode, useCallback, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { ApiError, api, hasRole, logout, type Me, type Role, setCsrf } from './api.ts';
import { link, type Navigate } from './nav.ts';
import { AuditPage } from './pages/audit.tsx';
import { ConfigPage } from './pages/config.tsx';
import { ReplayPage } from './pages/replay.tsx';
import { ReviewsPage } from './pages/reviews.tsx';
import { SessionsPage } from './pages/sessions.tsx';
import { TokensPage } from './pages/tokens.tsx';
import './styles.css';

interface PageDef {
  readonly path: string;
  readonly label: string;
  /** Shown to callers with one of these roles (the server checks again on every call). */
  readonly roles: readonly Role[];
}

const PAGES: readonly PageDef[] = [
  { path: '/reviews', label: 'Reviews', roles: ['admin', 'approver', 'auditor', 'user'] },
  { path: '/sessions', label: 'Sessions', roles: ['admin', 'auditor'] },
  { path: '/audit', label: 'Audit', roles: ['admin', 'auditor'] },
  { path: '/config', label: 'Connections & policies', roles: ['admin', 'auditor', 'approver'] },
  { path: '/tokens', label: 'Tokens', roles: ['admin', 'approver', 'auditor', 'user'] },
];

function usePath(): [string, Navigate] {
  const [path, setPath] = useState(window.location.pathname + window.location.search);
  useEffect(() => {
    const onPop = () => setPath(window.location.pathname + window.location.search);
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);
  const navigate = useCallback((to: string) => {
    window.history.pushState(null, '', to);
    setPath(to);
    window.scrollTo(0, 0);
  }, []);
  return [path, navigate];
}

function App() {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [error, setError] = useState('');
  const [path, navigate] = usePath();
  useEffect(() => {
    api<Me>('/whoami')
      .then((m) => {
        setCsrf(m.csrf);
        setMe(m);
      })
      .catch((err: unknown) => {
        if (err instanceof ApiError && err.status === 401) setMe(null);
        else setError((err as Error).message);
      });
  }, []);
  if (error) return <p role="alert">The gateway did not answer: {error}</p>;
  if (me === undefined) return <p aria-busy="true">Loading…</p>;
  if (me === null) return <SignIn />;
  const pathname = path.split('?')[0] ?? '/';
  const allowed = PAGES.filter((p) => hasRole(me, ...p.roles));
  const current = pathname === '/' ? allowed[0]?.path : pathname;
  return (
    <div className="shell">
      <header className="top">
        <a className="brand" href="/" onClick={link(navigate, '/')}>
          Airlock
        </a>
        <nav aria-label="Main">
          <ul>
            {allowed.map((p) => (
              <li key={p.path}>
                <a
                  href={p.path}
                  aria-current={current?.startsWith(p.path) ? 'page' : undefined}
                  onClick={link(navigate, p.path)}
                >
                  {p.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div className="who">
          <span title={`groups: ${me.groups.join(', ') || 'none'}`}>
            {me.name} <small>({me.roles.join(', ')})</small>
          </span>
          <button
            type="button"
            onClick={() => {
              void logout().then(() => window.location.assign('/'));
            }}
          >
            Sign out
          </button>
        </div>
      </header>
      <main id="main">
        <Route path={current ?? '/'} me={me} navigate={navigate} />
      </main>
    </div>
  );
}

// The server serves index.html for these paths only: keep CLIENT_ROUTES in src/console/handler.ts
// in step with them.
function Route({ path, me, navigate }: { path: string; me: Me; navigate: Navigate }) {
  const replay = /^\/sessions\/([A-Za-z0-9_-]+)$/.exec(path);
  if (replay?.[1]) return <ReplayPage id={replay[1]} navigate={navigate} />;
  switch (path) {
    case '/reviews':
      return <ReviewsPage me={me} />;
    case '/sessions':
      return <SessionsPage navigate={navigate} />;
    case '/audit':
      return <AuditPage navigate={navigate} />;
    case '/config':
      return <ConfigPage />;
    case '/tokens':
      return <TokensPage me={me} />;
    default:
      return <p>Nothing here. Pick a page above.</p>;
  }
}

function SignIn() {
  const returnTo = encodeURIComponent(window.location.pathname);
  return (
    <main className="signin">
      <h1>Airlock console</h1>
      <p>Approvals, sessions and the audit ledger. Sign in with your identity provider.</p>
      <a className="button primary" href={`/auth/login?return_to=${returnTo}`}>
        Sign in
      </a>
    </main>
  );
}

const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
}
