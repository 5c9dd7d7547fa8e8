// Replay views by protocol (the `protocol` of the session's `session.started`):
// - PostgreSQL (statements): ./sql.tsx;
// - HTTP and LLM (requests, conversations): ./http.tsx;
// - SSH (terminal recordings played in the page, commands): ./ssh.tsx.
// A protocol with no view here falls back to the generic event timeline, so new event types show
// up readably before their view exists.
import { genericView } from './generic.tsx';
import { httpView } from './http.tsx';
import { sqlView } from './sql.tsx';
import { sshView } from './ssh.tsx';
import type { ReplayView } from './types.ts';

export const REPLAY_VIEWS: Readonly<Record<string, ReplayView>> = {
  postgres: sqlView,
  http: httpView,
  ssh: sshView,
};

export function viewFor(protocol: string): ReplayView {
  return REPLAY_VIEWS[protocol] ?? genericView;
}
