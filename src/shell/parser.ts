/**
 * A parser for the POSIX shell command language (with the bash extensions agents use): lists,
 * pipelines, `&&`/`||`, subshells and groups, `if`/`while`/`until`/`for`/`select`/`case`,
 * functions, `[[ ]]`, `(( ))`, redirections, here-documents and here-strings, and every
 * substitution. It yields each simple command that may run, flattened in execution order, so
 * policy judges argv, never a substring of the text.
 *
 * Anything it cannot read exactly as a shell would (an unterminated quote, `coproc`, nesting
 * deeper than {@link SHELL_LIMITS.maxDepth}) is a parse error: the caller fails closed.
 *
 * https://pubs.opengroup.org/onlinepubs/9799919799/utilities/V3_chap02.html#tag_19_10
 */
import type { ParseResult, Redirect, SimpleCommand, StdinText, Word } from './types.ts';
import { METACHARS, readArithmetic, readDoubleQuoted, readWord, type WordHost } from './words.ts';

export const SHELL_LIMITS = Object.freeze({
  /** Longer commands (UTF-16 code units) are refused unparsed. */
  maxInput: 256 * 1024,
  /** Nested constructs (substitutions, subshells, compound commands). */
  maxDepth: 48,
});

type Token =
  | { readonly t: 'word'; readonly word: Word; readonly start: number; readonly end: number }
  | {
      readonly t: 'op';
      readonly op: string;
      readonly fd: number | undefined;
      readonly start: number;
      readonly end: number;
    }
  | { readonly t: 'nl' | 'eof'; readonly start: number; readonly end: number };

interface MutableCommand {
  words: Word[];
  assignments: string[];
  redirects: Redirect[];
  stdin: StdinText[];
  background: boolean;
  pipeline: boolean;
  pipedInput: boolean;
  substitution: boolean;
  functionBody: boolean;
}

interface PendingHeredoc {
  readonly delimiter: string;
  readonly stripTabs: boolean;
  readonly literal: boolean;
  readonly into: StdinText[];
}

const REDIRECT_OPS = new Set([
  '<',
  '>',
  '>>',
  '>|',
  '<>',
  '&>',
  '&>>',
  '<&',
  '>&',
  '<<',
  '<<-',
  '<<<',
]);
const LIST_END = new Set(['then', 'else', 'elif', 'fi', 'do', 'done', 'esac', '}', 'in']);
const CASE_END = new Set([';;', ';&', ';;&']);

class ShellSyntaxError extends Error {
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(message);
    this.offset = offset;
  }
}

/**
 * Parses a command line or script.
 *
 * @example
 * const r = parseShell("sudo -u root sh -c 'rm -rf /tmp/x' && echo $(whoami)");
 * // r.ok === true; r.commands.map((c) => c.words.map((w) => w.value)):
 * // [['sudo', '-u', 'root', 'sh', '-c', 'rm -rf /tmp/x'], ['whoami'], ['echo', '']]
 */
export function parseShell(src: string): ParseResult {
  if (src.length > SHELL_LIMITS.maxInput) {
    return {
      ok: false,
      error: `command longer than ${SHELL_LIMITS.maxInput} characters`,
      offset: 0,
    };
  }
  if (src.includes('\0'))
    return { ok: false, error: 'NUL byte in command', offset: src.indexOf('\0') };
  try {
    const p = new Parser(src, 0);
    p.script();
    return { ok: true, commands: p.out.map(freeze) };
  } catch (err) {
    if (err instanceof ShellSyntaxError)
      return { ok: false, error: err.message, offset: err.offset };
    if (err instanceof RangeError)
      return { ok: false, error: 'command nested too deeply', offset: 0 };
    throw err;
  }
}

function freeze(c: MutableCommand): SimpleCommand {
  return Object.freeze({
    ...c,
    words: Object.freeze(c.words.map((w) => Object.freeze(w))),
    assignments: Object.freeze(c.assignments),
    redirects: Object.freeze(c.redirects),
    stdin: Object.freeze(c.stdin),
  });
}

class Parser implements WordHost {
  readonly src: string;
  pos = 0;
  readonly out: MutableCommand[] = [];
  readonly #depth: number;
  #nesting = 0;
  #peeked: Token | undefined;
  #peekedAt = -1;
  #pending: PendingHeredoc[] = [];
  #substitution = 0;

  constructor(src: string, depth: number) {
    this.src = src;
    this.#depth = depth;
  }

  fail(message: string, offset = this.pos): never {
    throw new ShellSyntaxError(message, offset);
  }

  script(): void {
    this.list(() => false);
    const tok = this.peek();
    if (tok.t !== 'eof') this.unexpected(tok);
  }

  // ---- WordHost: substitutions ----

  commandSubstitution(): void {
    this.#enter(() => {
      this.#substitution += 1;
      this.#peeked = undefined;
      this.list((tok) => tok.t === 'op' && tok.op === ')');
      this.expectOp(')');
      this.#substitution -= 1;
    });
  }

  backquoted(text: string): void {
    if (this.#depth + this.#nesting >= SHELL_LIMITS.maxDepth)
      this.fail('command nested too deeply');
    const inner = new Parser(text, this.#depth + this.#nesting + 1);
    try {
      inner.script();
    } catch (err) {
      if (err instanceof ShellSyntaxError) this.fail(`in backquotes: ${err.message}`);
      throw err;
    }
    for (const c of inner.out) this.out.push({ ...c, substitution: true });
  }

  // ---- grammar ----

  /** `and_or ((';' | '&' | newline) and_or)*` until `stop` holds at a command position. */
  list(stop: (tok: Token) => boolean): void {
    for (;;) {
      this.skipNewlines();
      const tok = this.peek();
      if (tok.t === 'eof' || stop(tok)) return;
      if (tok.t === 'word' && isReserved(tok, LIST_END)) this.unexpected(tok);
      const start = this.out.length;
      this.andOr();
      const sep = this.peek();
      if (sep.t === 'op' && (sep.op === ';' || sep.op === '&')) {
        this.next();
        if (sep.op === '&') for (const c of this.out.slice(start)) c.background = true;
      } else if (sep.t === 'nl') {
        this.next();
      } else if (sep.t !== 'eof' && !stop(sep)) {
        this.unexpected(sep);
      }
    }
  }

  andOr(): void {
    this.pipeline();
    for (;;) {
      const tok = this.peek();
      if (tok.t !== 'op' || (tok.op !== '&&' && tok.op !== '||')) return;
      this.next();
      this.skipNewlines();
      this.pipeline();
    }
  }

  pipeline(): void {
    for (;;) {
      const tok = this.peek();
      if (tok.t === 'word' && isReserved(tok, PIPELINE_PREFIX)) {
        this.next();
        const flag = this.peek();
        if (tok.word.value === 'time' && flag.t === 'word' && flag.word.raw === '-p') this.next();
        continue;
      }
      break;
    }
    const parts: number[] = [this.out.length];
    this.command();
    for (;;) {
      const tok = this.peek();
      if (tok.t !== 'op' || (tok.op !== '|' && tok.op !== '|&')) break;
      this.next();
      this.skipNewlines();
      parts.push(this.out.length);
      this.command();
    }
    if (parts.length < 2) return;
    const first = parts[0] as number;
    const second = parts[1] as number;
    this.out.slice(first).forEach((c, i) => {
      c.pipeline = true;
      if (first + i >= second) c.pipedInput = true;
    });
  }

  command(): void {
    const tok = this.peek();
    const start = this.out.length;
    if (tok.t === 'word' && !tok.word.quoted && tok.word.literal) {
      const compound = COMPOUND.get(tok.word.raw);
      if (compound !== undefined) {
        this.#enter(() => compound(this));
        this.trailingRedirects(start);
        return;
      }
    }
    if (tok.t === 'op' && tok.op === '(') {
      this.#enter(() => {
        if (this.src[tok.start + 1] === '(') this.arithmeticCommand(tok.start);
        else this.subshell();
      });
      this.trailingRedirects(start);
      return;
    }
    if (tok.t === 'word' || (tok.t === 'op' && REDIRECT_OPS.has(tok.op))) {
      this.simple();
      return;
    }
    this.unexpected(tok);
  }

  simple(): void {
    const c = newCommand(this.#substitution > 0);
    for (;;) {
      const tok = this.peek();
      if (tok.t === 'word') {
        if (c.words.length === 0 && this.assignment(tok, c)) continue;
        if (c.words.length === 0 && this.functionDefinition(tok)) return;
        this.next();
        c.words.push(tok.word);
      } else if (tok.t === 'op' && REDIRECT_OPS.has(tok.op)) {
        this.next();
        this.redirect(tok.op, tok.fd, c);
      } else break;
    }
    if (c.words.length > 0) this.out.push(c);
  }

  /** `NAME=value` (also `NAME+=value`, `NAME[i]=value`, `NAME=(a b c)`) before the command. */
  assignment(tok: Extract<Token, { t: 'word' }>, c: MutableCommand): boolean {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(\[[^\]]*\])?\+?=/.exec(tok.word.raw);
    if (m === null) return false;
    this.next();
    c.assignments.push(m[1] as string);
    if (tok.word.raw.endsWith('=') && this.src[tok.end] === '(') {
      this.pos = tok.end + 1;
      this.#peeked = undefined;
      for (;;) {
        this.skipNewlines();
        const t = this.peek();
        if (t.t === 'op' && t.op === ')') break;
        if (t.t !== 'word') this.unexpected(t);
        this.next();
      }
      this.expectOp(')');
    }
    return true;
  }

  /** `name () compound-command`: the body's commands run when the function is called. */
  functionDefinition(tok: Extract<Token, { t: 'word' }>): boolean {
    const m = /^[ \t]*\([ \t]*\)/.exec(this.src.slice(tok.end, tok.end + 64));
    if (m === null) return false;
    this.pos = tok.end + m[0].length;
    this.#peeked = undefined;
    this.functionBody();
    return true;
  }

  functionBody(): void {
    this.skipNewlines();
    const start = this.out.length;
    this.command();
    for (const c of this.out.slice(start)) c.functionBody = true;
  }

  redirect(op: string, fd: number | undefined, c: MutableCommand): void {
    const target = this.expectWord(`a target for ${op}`);
    c.redirects.push({ op, fd, target });
    if (op === '<<<') c.stdin.push({ text: target.value, literal: target.literal });
    if (op === '<<' || op === '<<-') {
      this.#pending.push({
        delimiter: target.value,
        stripTabs: op === '<<-',
        literal: target.quoted,
        into: c.stdin,
      });
    }
  }

  /** Redirections after a compound command apply to every command in it. */
  trailingRedirects(start: number): void {
    const holder = newCommand(false);
    for (;;) {
      const tok = this.peek();
      if (tok.t !== 'op' || !REDIRECT_OPS.has(tok.op)) break;
      this.next();
      this.redirect(tok.op, tok.fd, holder);
    }
    if (holder.redirects.length === 0) return;
    for (const c of this.out.slice(start)) {
      c.redirects.push(...holder.redirects);
      c.stdin.push(...holder.stdin);
    }
  }

  subshell(): void {
    this.next();
    this.list((tok) => tok.t === 'op' && tok.op === ')');
    this.expectOp(')');
  }

  /** `(( expr ))` as a command. */
  arithmeticCommand(start: number): void {
    this.pos = start + 2;
    this.#peeked = undefined;
    readArithmetic(this);
  }

  ifClause(): void {
    this.next();
    this.list(reserved('then'));
    this.expectReserved('then');
    for (;;) {
      this.list(reserved('elif', 'else', 'fi'));
      const tok = this.next();
      const word = tok.t === 'word' ? tok.word.raw : '';
      if (word === 'fi') return;
      if (word === 'elif') {
        this.list(reserved('then'));
        this.expectReserved('then');
      } else if (word !== 'else') this.unexpected(tok);
    }
  }

  loopClause(): void {
    this.next();
    this.list(reserved('do'));
    this.doGroup();
  }

  doGroup(): void {
    this.expectReserved('do');
    this.list(reserved('done'));
    this.expectReserved('done');
  }

  forClause(): void {
    this.next();
    const tok = this.peek();
    if (tok.t === 'op' && tok.op === '(' && this.src[tok.start + 1] === '(') {
      this.arithmeticCommand(tok.start);
    } else {
      this.expectWord('a loop variable');
      this.skipNewlines();
      const next = this.peek();
      if (next.t === 'word' && !next.word.quoted && next.word.raw === 'in') {
        this.next();
        while (this.peek().t === 'word') this.next();
      }
    }
    const sep = this.peek();
    if (sep.t === 'op' && sep.op === ';') this.next();
    this.skipNewlines();
    this.doGroup();
  }

  caseClause(): void {
    this.next();
    this.expectWord('a word to match');
    this.skipNewlines();
    this.expectReserved('in');
    for (;;) {
      this.skipNewlines();
      const tok = this.peek();
      if (tok.t === 'word' && !tok.word.quoted && tok.word.raw === 'esac') break;
      if (tok.t === 'op' && tok.op === '(') this.next();
      this.expectWord('a case pattern');
      for (let t = this.peek(); t.t === 'op' && t.op === '|'; t = this.peek()) {
        this.next();
        this.expectWord('a case pattern');
      }
      this.expectOp(')');
      this.list((t) => (t.t === 'op' && CASE_END.has(t.op)) || isReserved(t, ESAC));
      const end = this.peek();
      if (end.t === 'op' && CASE_END.has(end.op)) this.next();
    }
    this.expectReserved('esac');
  }

  braceGroup(): void {
    this.next();
    this.list(reserved('}'));
    this.expectReserved('}');
  }

  /** `function name [()] compound-command`. */
  functionKeyword(): void {
    this.next();
    const name = this.expectWord('a function name');
    const m = /^[ \t]*\([ \t]*\)/.exec(this.src.slice(this.pos, this.pos + 64));
    if (m !== null) {
      this.pos += m[0].length;
      this.#peeked = undefined;
    }
    if (name.raw.length === 0) this.fail('expected a function name');
    this.functionBody();
  }

  /** `[[ expression ]]`: words, not commands (substitutions inside still run). */
  conditional(): void {
    const open = this.next();
    for (;;) {
      const tok = this.next();
      if (tok.t === 'eof') this.fail('expected ]] to close [[', open.start);
      if (tok.t === 'word' && !tok.word.quoted && tok.word.raw === ']]') return;
    }
  }

  unsupported(): void {
    const tok = this.peek();
    this.fail(`unsupported shell syntax: ${tok.t === 'word' ? tok.word.raw : '?'}`, tok.start);
  }

  // ---- tokens ----

  /** The next token, lexed once: lexing has effects (substitutions are parsed, bodies read). */
  peek(): Token {
    if (this.#peeked !== undefined && this.#peekedAt === this.pos) return this.#peeked;
    const at = this.pos;
    const tok = this.lex();
    this.pos = at;
    this.#peeked = tok;
    this.#peekedAt = at;
    return tok;
  }

  next(): Token {
    const tok = this.peek();
    this.pos = tok.end;
    this.#peeked = undefined;
    return tok;
  }

  skipNewlines(): void {
    while (this.peek().t === 'nl') this.next();
  }

  expectOp(op: string): void {
    const tok = this.next();
    if (tok.t !== 'op' || tok.op !== op) this.unexpected(tok, op);
  }

  expectReserved(word: string): void {
    const tok = this.next();
    if (tok.t !== 'word' || tok.word.quoted || tok.word.raw !== word) this.unexpected(tok, word);
  }

  expectWord(what: string): Word {
    const tok = this.next();
    if (tok.t !== 'word') this.unexpected(tok, what);
    return tok.word;
  }

  unexpected(tok: Token, expected?: string): never {
    const got =
      tok.t === 'word'
        ? tok.word.raw
        : tok.t === 'op'
          ? tok.op
          : tok.t === 'nl'
            ? 'newline'
            : 'end of input';
    this.fail(
      `unexpected ${JSON.stringify(got)}${expected ? `, expected ${expected}` : ''}`,
      tok.start,
    );
  }

  #enter(fn: () => void): void {
    this.#nesting += 1;
    if (this.#depth + this.#nesting > SHELL_LIMITS.maxDepth) this.fail('command nested too deeply');
    fn();
    this.#nesting -= 1;
  }

  /** The token at `pos` (blanks, comments and line continuations skipped). */
  lex(): Token {
    const { src } = this;
    for (;;) {
      const c = src[this.pos];
      if (c === ' ' || c === '\t') this.pos += 1;
      else if (c === '\\' && src[this.pos + 1] === '\n') this.pos += 2;
      else if (c === '#') {
        while (this.pos < src.length && src[this.pos] !== '\n') this.pos += 1;
      } else break;
    }
    const start = this.pos;
    const c = src[start];
    if (c === undefined) return { t: 'eof', start, end: start };
    if (c === '\n') {
      this.pos += 1;
      this.#readHeredocs();
      return { t: 'nl', start, end: this.pos };
    }
    const fd = /^[0-9]+(?=[<>])/.exec(src.slice(start, start + 12));
    if (fd !== null) {
      this.pos += fd[0].length;
      const op = this.#operator();
      return { ...op, fd: Number(fd[0]), start };
    }
    if ((c === '<' || c === '>') && src[start + 1] === '(') return this.#processSubstitution();
    if (METACHARS.has(c)) return { ...this.#operator(), start };
    const word = readWord(this);
    return { t: 'word', word, start, end: this.pos };
  }

  #operator(): { t: 'op'; op: string; fd: undefined; end: number } {
    const rest = this.src.slice(this.pos, this.pos + 3);
    const op = OPERATORS.find((o) => rest.startsWith(o));
    if (op === undefined) this.fail(`unexpected character ${JSON.stringify(rest[0])}`);
    this.pos += op.length;
    return { t: 'op', op, fd: undefined, end: this.pos };
  }

  /** `<(list)` or `>(list)`: a word whose commands run alongside. */
  #processSubstitution(): Token {
    const start = this.pos;
    this.pos += 2;
    this.commandSubstitution();
    const raw = this.src.slice(start, this.pos);
    const word: Word = { raw, value: '', literal: false, quoted: false, glob: false, brace: false };
    return { t: 'word', word, start, end: this.pos };
  }

  /** After a newline: the bodies of the here-documents opened on that line. */
  #readHeredocs(): void {
    const pending = this.#pending;
    this.#pending = [];
    for (const h of pending) {
      const lines: string[] = [];
      let closed = false;
      while (this.pos < this.src.length) {
        const nl = this.src.indexOf('\n', this.pos);
        const end = nl < 0 ? this.src.length : nl;
        let line = this.src.slice(this.pos, end);
        this.pos = nl < 0 ? end : end + 1;
        if (h.stripTabs) line = line.replace(/^\t+/, '');
        if (line === h.delimiter) {
          closed = true;
          break;
        }
        lines.push(line);
      }
      const text = lines.length === 0 ? '' : `${lines.join('\n')}\n`;
      h.into.push({ text, literal: h.literal || this.#expandHeredoc(text, closed) });
    }
  }

  /** Parses substitutions in an unquoted here-document body; true when it expands nothing. */
  #expandHeredoc(text: string, _closed: boolean): boolean {
    const inner = new Parser(text, this.#depth + this.#nesting + 1);
    const b = { value: '', literal: true };
    try {
      readDoubleQuoted(inner, b, '');
    } catch (err) {
      if (err instanceof ShellSyntaxError) this.fail(`in here-document: ${err.message}`);
      throw err;
    }
    for (const c of inner.out) this.out.push({ ...c, substitution: true });
    return b.literal;
  }
}

const OPERATORS = [
  ';;&',
  '&>>',
  '<<<',
  '<<-',
  ';;',
  ';&',
  '&&',
  '||',
  '|&',
  '&>',
  '<<',
  '<&',
  '<>',
  '>>',
  '>|',
  '>&',
  ';',
  '&',
  '|',
  '(',
  ')',
  '<',
  '>',
] as const;

const PIPELINE_PREFIX = new Set(['!', 'time']);
const ESAC = new Set(['esac']);

const COMPOUND: ReadonlyMap<string, (p: Parser) => void> = new Map([
  ['if', (p: Parser) => p.ifClause()],
  ['while', (p: Parser) => p.loopClause()],
  ['until', (p: Parser) => p.loopClause()],
  ['for', (p: Parser) => p.forClause()],
  ['select', (p: Parser) => p.forClause()],
  ['case', (p: Parser) => p.caseClause()],
  ['{', (p: Parser) => p.braceGroup()],
  ['function', (p: Parser) => p.functionKeyword()],
  ['[[', (p: Parser) => p.conditional()],
  ['coproc', (p: Parser) => p.unsupported()],
]);

function isReserved(tok: Token, words: ReadonlySet<string>): boolean {
  return tok.t === 'word' && !tok.word.quoted && tok.word.literal && words.has(tok.word.raw);
}

function reserved(...words: string[]): (tok: Token) => boolean {
  const set = new Set(words);
  return (tok) => isReserved(tok, set);
}

function newCommand(substitution: boolean): MutableCommand {
  return {
    words: [],
    assignments: [],
    redirects: [],
    stdin: [],
    background: false,
    pipeline: false,
    pipedInput: false,
    substitution,
    functionBody: false,
  };
}
