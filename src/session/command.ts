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

/** What an SSH session channel asked for, with its terminal when it has one. */
interface SshChannelCommand {
  /** The SSH channel (the client's number for it) the request arrived on. */
  readonly channel: number;
  /** The terminal the client requested (`ssh -t`), if any. */
  readonly pty?: { readonly term: string; readonly cols: number; readonly rows: number };
  /** Names of the client's environment variables passed upstream (values are not recorded). */
  readonly env?: readonly string[];
  /** Names of variables the client sent that `ssh.forward_env` does not allow. */
  readonly droppedEnv?: readonly string[];
}

/** An SSH `exec` request: a command line the upstream user's shell runs. */
export interface ExecCommand extends SshChannelCommand {
  readonly kind: 'exec';
  /** The command line exactly as the client sent it. */
  readonly text: string;
}

/** An interactive SSH shell (`ssh host` with no command). */
export interface ShellCommand extends SshChannelCommand {
  readonly kind: 'shell';
  /** How it is shown to approvers and in the ledger, e.g. `interactive shell (xterm 80x24)`. */
  readonly text: string;
}

/** The SFTP subsystem (`sftp`, and `scp` in its default SFTP mode). */
export interface SftpCommand extends SshChannelCommand {
  readonly kind: 'sftp';
  readonly text: string;
}

/** SSH port forwarding (`ssh -L`): a TCP connection from the upstream host to `host:port`. */
export interface ForwardCommand {
  readonly kind: 'forward';
  /** `forward to host:port`. */
  readonly text: string;
  readonly host: string;
  readonly port: number;
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

/** Every command kind. */
export type Command =
  | SqlCommand
  | HttpCommand
  | ExecCommand
  | ShellCommand
  | SftpCommand
  | ForwardCommand;
export type CommandKind = Command['kind'];

/** How a forwarded command ended, as reported by the engine. */
export interface CommandResult {
  readonly outcome: 'ok' | 'error' | 'skipped' | 'aborted' | 'suspended';
  /** Command tags (one per statement of a multi-statement Query); SQL only. */
  readonly tags?: readonly string[];
  /** Rows returned or affected; SQL only. */
  readonly rows?: number;
  /** Bytes sent to the client. */
  readonly bytes: number;
  readonly durationMs: number;
  readonly error?: { readonly code: string; readonly message: string };
  /** Bytes received from the client (SSH: standard input, uploads). */
  readonly bytesIn?: number;
  /** SSH: the exit status the command reported, or the signal that ended it. */
  readonly exitStatus?: number;
  readonly exitSignal?: string;
  /** HTTP: the status the client got. */
  readonly status?: number;
  /** HTTP: the response body as the ledger keeps it (clipped; redacted by the pipeline). */
  readonly body?: string;
  /** LLM: the response (text per choice, tool calls, usage), recorded in `llm.responded`. */
  readonly llm?: Readonly<Record<string, unknown>>;
}
