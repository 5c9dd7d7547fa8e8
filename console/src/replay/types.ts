// What a replay view gets: the session's ledger events in order, and the statements joined with
// their outcomes. Protocol engines add their own views in ./registry.ts.

export interface LedgerEvent {
  readonly seq: number;
  readonly ts: string;
  readonly type: string;
  readonly sessionId: string | null;
  readonly connection: string | null;
  readonly actor: { identity: string; owner?: string; kind: string } | null;
  readonly commandId: string | null;
  readonly data: Record<string, unknown>;
}

export interface CommandRecord {
  readonly commandId: string;
  readonly seq: number;
  readonly ts: string;
  readonly request: Record<string, unknown>;
  readonly outcome: Record<string, unknown> | null;
  readonly approval: { type: string; ts: string; data: Record<string, unknown> } | null;
}

export interface SessionReplay {
  readonly session: {
    id: string;
    protocol: string;
    connection: string | null;
    actor: LedgerEvent['actor'];
    clientAddr: string | null;
  };
  readonly events: readonly LedgerEvent[];
  readonly commands: readonly CommandRecord[];
  readonly masking: Record<string, number>;
}

export interface ReplayView {
  /** Shown as the heading of the view. */
  readonly title: string;
  readonly render: (replay: SessionReplay) => React.ReactNode;
}
