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

/** What policy and the ledger see of an LLM call (the dialect parsed the request body). */
export interface LlmCommandInfo {
  readonly dialect: 'openai' | 'anthropic';
  readonly operation: string;
  readonly model: string;
  readonly stream: boolean;
  /** The prompt text policy patterns match (never recorded as such: `record` is). */
  readonly prompt: string;
  /** Detector types found in the prompt before any masking (for `prompt.contains` rules). */
  readonly findings: readonly string[];
  /** Tokens to reserve against budgets: the prompt estimate plus the output limit. */
  readonly reserveTokens: number;
  /** What the ledger keeps of the request: messages, tools, parameters (redacted, clipped). */
  readonly record: Readonly<Record<string, unknown>>;
}

/** One HTTP request through an `http` or `llm` connection. */
export interface HttpCommand {
  readonly kind: 'http';
  readonly method: string;
  /** Path and query as sent upstream, relative to the connection's URL. */
  readonly url: string;
  /** The path alone, for `paths` rules. */
  readonly path: string;
  readonly host: string;
  /** One line for people (approvers, `audit query`): method, path, model, prompt excerpt. */
  readonly text: string;
  readonly params: null;
  /** SHA-256 (hex) of the request body: binds a review to it. */
  readonly paramsDigest: string;
  readonly bodyBytes: number;
  /** The body as the ledger keeps it (JSON or text, clipped, redacted); absent when binary. */
  readonly body?: string;
  readonly llm?: LlmCommandInfo;
  /** `x-airlock-caused-by`: the event id of the LLM response this request follows from. */
  readonly causedBy?: string;
}

/** Every command kind; later engines add exec, shell-input. */
export type Command = SqlCommand | HttpCommand;

/** How a forwarded command ended, as reported by the engine. */
export interface CommandResult {
  readonly outcome: 'ok' | 'error' | 'skipped' | 'aborted' | 'suspended';
  /** Command tags (one per statement of a multi-statement Query). */
  readonly tags: readonly string[];
  readonly rows: number;
  readonly bytes: number;
  readonly durationMs: number;
  readonly error?: { readonly code: string; readonly message: string };
  /** HTTP: the status the client got. */
  readonly status?: number;
  /** HTTP: the response body as the ledger keeps it (clipped; redacted by the pipeline). */
  readonly body?: string;
  /** LLM: the response (text per choice, tool calls, usage), recorded in `llm.responded`. */
  readonly llm?: Readonly<Record<string, unknown>>;
}
