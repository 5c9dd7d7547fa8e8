/**
 * What the shell parser produces: every simple command a script may run, flattened, with the
 * context policy cares about (pipelines, background, substitutions, redirections, here-documents).
 * Control structures (`if`, `for`, `case`, functions, subshells, groups) are parsed, not kept.
 */

/** One shell word after parsing. */
export interface Word {
  /** The source text of the word, as written. */
  readonly raw: string;
  /**
   * The word after quote removal. Exact when `literal`; otherwise the literal parts only (an
   * expansion contributes nothing), a best effort for display.
   */
  readonly value: string;
  /** No parameter, command, arithmetic or process substitution: `value` is what runs. */
  readonly literal: boolean;
  /** Some part was quoted or escaped (a quoted `if` is no reserved word). */
  readonly quoted: boolean;
  /** Unquoted `*`, `?` or `[`: pathname expansion may turn it into other words. */
  readonly glob: boolean;
  /** Unquoted `{a,b}` or `{1..9}`: brace expansion turns it into several words. */
  readonly brace: boolean;
}

export interface Redirect {
  /** `<`, `>`, `>>`, `>|`, `<>`, `&>`, `&>>`, `<&`, `>&`, `<<`, `<<-`, `<<<`. */
  readonly op: string;
  readonly fd: number | undefined;
  /** The file, descriptor or here-string; for a here-document, its delimiter. */
  readonly target: Word;
}

/** What a here-document or here-string feeds a command's standard input. */
export interface StdinText {
  readonly text: string;
  /** No expansion in it (a quoted delimiter, or a literal here-string). */
  readonly literal: boolean;
}

export interface SimpleCommand {
  /** The command name and its arguments (assignments and redirections removed). */
  readonly words: readonly Word[];
  /** `NAME=value` prefixes (names only; values can hold secrets). */
  readonly assignments: readonly string[];
  readonly redirects: readonly Redirect[];
  /** Here-documents and here-strings, in order; the last one is what the command reads. */
  readonly stdin: readonly StdinText[];
  /** Runs asynchronously (`cmd &`). */
  readonly background: boolean;
  /** One of several commands of a pipeline. */
  readonly pipeline: boolean;
  /** Not the first command of its pipeline: reads the previous one's output. */
  readonly pipedInput: boolean;
  /** Runs inside `$(...)`, backquotes or a process substitution. */
  readonly substitution: boolean;
  /** Part of a function body: runs if the function is called. */
  readonly functionBody: boolean;
}

export type ParseResult =
  | { readonly ok: true; readonly commands: readonly SimpleCommand[] }
  | { readonly ok: false; readonly error: string; readonly offset: number };
