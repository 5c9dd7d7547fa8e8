// Replay views by protocol. Extension point for the other engines:
// - SSH (asciicast terminal recordings): add `ssh: { title: 'Terminal', render: ... }` reading the
//   recording events of the session;
// - HTTP and LLM (requests, conversations): ./http.tsx.
// A protocol with no view here falls back to the generic event timeline, so new event types show
// up readably before their view exists.
import { genericView } from './generic.tsx';
import { httpView } from './http.tsx';
import { sqlView } from './sql.tsx';
import type { ReplayView } from './types.ts';

export const REPLAY_VIEWS: Readonly<Record<string, ReplayView>> = {
  postgres: sqlView,
  http: httpView,
};

export function viewFor(protocol: string): ReplayView {
  return REPLAY_VIEWS[protocol] ?? genericView;
}
