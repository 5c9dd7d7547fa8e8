/**
 * Protocol-neutral commands: what policy reasons about and what the ledger records. Engines turn
 * every client command into one of these before it may be forwarded.
 */

/** One bound parameter of a prepared statement, as recorded (possibly truncated). */
export interface SqlParam {
  readonly format: 'text' | 'binary';
  /** Text value, or base64 for binary; null for SQL NULL. */
  readonly value: string | null;
  /** Size of the original value in bytes. */
  readonly bytes: number;
  readonly truncated?: true;
}

export interface SqlCommand {
  readonly kind: 'sql';
  /** The statement text as the client sent it. */
  readonly text: string;
  /** Bound parameters (extended protocol), or null for a simple Query. */
  readonly params: readonly SqlParam[] | null;
  readonly protocol: 'simple' | 'extended' | 'fastpath';
  readonly statementName?: string;
  readonly portal?: string;
  /** SHA-256 (hex) over the full, untruncated parameter values: binds a review to them. */
  readonly paramsDigest?: string;
}

/** Every command kind; later engines add exec, shell-input, http. */
export type Command = SqlCommand;

/** How a forwarded command ended, as reported by the engine. */
export interface CommandResult {
  readonly outcome: 'ok' | 'error' | 'skipped' | 'aborted' | 'suspended';
  /** Command tags (one per statement of a multi-statement Query). */
  readonly tags: readonly string[];
  readonly rows: number;
  readonly bytes: number;
  readonly durationMs: number;
  readonly error?: { readonly code: string; readonly message: string };
}
