/**
 * Reading one shell word: quotes, escapes and every expansion that can hide a command
 * (`$(...)`, backquotes, `${...}`, `$((...))`). Quote removal follows POSIX 2.2 and bash's
 * `$'...'`. The scanner is handed in, so command substitutions are parsed by the same parser.
 *
 * https://pubs.opengroup.org/onlinepubs/9799919799/utilities/V3_chap02.html#tag_19_02
 */
import type { Word } from './types.ts';

/** What a word reader needs from the parser around it. */
export interface WordHost {
  readonly src: string;
  pos: number;
  /** Parses a command list up to the `)` closing `$(` (the `)` is consumed). */
  commandSubstitution(): void;
  /** Parses the text between backquotes (already unescaped) as a script. */
  backquoted(text: string): void;
  fail(message: string, offset?: number): never;
}

/** Characters that end an unquoted word. */
export const METACHARS = new Set([' ', '\t', '\n', ';', '&', '|', '(', ')', '<', '>']);

interface Builder {
  value: string;
  literal: boolean;
  quoted: boolean;
  glob: boolean;
  braceDepth: number;
  braceList: boolean;
  brace: boolean;
  bracket: boolean;
}

/**
 * Reads the word starting at `host.pos` and leaves `pos` after it.
 *
 * @example
 * const host = { src: "rm -rf '/tmp/x'", pos: 7, ... };
 * readWord(host); // { raw: "'/tmp/x'", value: '/tmp/x', literal: true, quoted: true, ... }
 */
export function readWord(host: WordHost): Word {
  const { src } = host;
  const start = host.pos;
  const b: Builder = {
    value: '',
    literal: true,
    quoted: false,
    glob: false,
    braceDepth: 0,
    braceList: false,
    brace: false,
    bracket: false,
  };
  while (host.pos < src.length) {
    const c = src[host.pos] as string;
    if (METACHARS.has(c)) break;
    readUnquoted(host, b, c);
  }
  if (host.pos === start) host.fail(`unexpected character ${JSON.stringify(src[start] ?? '')}`);
  const { value, literal, quoted, glob, brace } = b;
  return { raw: src.slice(start, host.pos), value, literal, quoted, glob, brace };
}

function readUnquoted(host: WordHost, b: Builder, c: string): void {
  const { src } = host;
  if (c === '\\') {
    const next = src[host.pos + 1];
    host.pos += next === undefined ? 1 : 2;
    if (next === '\n') return; // line continuation
    b.value += next ?? '\\';
    b.quoted = true;
  } else if (c === "'") {
    const end = src.indexOf("'", host.pos + 1);
    if (end < 0) host.fail('unterminated single quote', host.pos);
    b.value += src.slice(host.pos + 1, end);
    b.quoted = true;
    host.pos = end + 1;
  } else if (c === '"') {
    host.pos += 1;
    readDoubleQuoted(host, b, '"');
    b.quoted = true;
  } else if (c === '$') {
    readDollar(host, b, false);
  } else if (c === '`') {
    readBackquoted(host);
    b.literal = false;
  } else {
    host.pos += 1;
    b.value += c;
    // A lone `[` (the test command) is no pattern: only `[...]` is.
    if (c === '*' || c === '?' || (c === ']' && b.bracket)) b.glob = true;
    if (c === '[') b.bracket = true;
    trackBrace(host, b, c);
  }
}

/** Unquoted `{a,b}` / `{1..3}`: brace expansion makes several words of one. */
function trackBrace(host: WordHost, b: Builder, c: string): void {
  if (c === '{') b.braceDepth += 1;
  else if (c === '}' && b.braceDepth > 0) {
    b.braceDepth -= 1;
    if (b.braceList) b.brace = true;
  } else if (b.braceDepth > 0 && (c === ',' || (c === '.' && host.src[host.pos] === '.'))) {
    b.braceList = true;
  }
}

/**
 * Inside `"..."` (or a here-document body, `end` = ''): `\` escapes only `$ \` " \\` and a
 * newline; `$` and backquotes expand. Stops after `end`, or at the end of input when `end` is ''.
 */
export function readDoubleQuoted(
  host: WordHost,
  b: { value: string; literal: boolean },
  end: string,
) {
  const { src } = host;
  for (;;) {
    if (host.pos >= src.length) {
      if (end === '') return;
      host.fail('unterminated double quote');
    }
    const c = src[host.pos] as string;
    if (c === end) {
      host.pos += 1;
      return;
    }
    if (c === '\\') {
      const next = src[host.pos + 1];
      host.pos += next === undefined ? 1 : 2;
      if (next === '\n') continue;
      b.value += next !== undefined && '$`"\\'.includes(next) ? next : `\\${next ?? ''}`;
    } else if (c === '$') {
      readDollar(host, b as Builder, true);
    } else if (c === '`') {
      readBackquoted(host);
      b.literal = false;
    } else {
      b.value += c;
      host.pos += 1;
    }
  }
}

/**
 * `$name`, `${...}`, `$(...)`, `$((...))`, `$'...'`, `$"..."`, or a lone `$`. Inside double
 * quotes `$'` and `$"` are plain characters.
 */
function readDollar(host: WordHost, b: Builder, inQuotes: boolean): void {
  const { src } = host;
  const next = src[host.pos + 1] ?? '';
  if (next === "'" && !inQuotes) {
    host.pos += 2;
    b.value += readAnsiC(host);
    b.quoted = true;
  } else if (next === '"' && !inQuotes) {
    host.pos += 2;
    readDoubleQuoted(host, b, '"');
    b.quoted = true;
  } else if (next === '(' && src[host.pos + 2] === '(') {
    host.pos += 3;
    readArithmetic(host);
    b.literal = false;
  } else if (next === '(') {
    host.pos += 2;
    host.commandSubstitution();
    b.literal = false;
  } else if (next === '{') {
    host.pos += 2;
    readBraced(host);
    b.literal = false;
  } else if (/[A-Za-z_]/.test(next)) {
    host.pos += 1;
    while (host.pos < src.length && /[A-Za-z0-9_]/.test(src[host.pos] as string)) host.pos += 1;
    b.literal = false;
  } else if (/[0-9@*#?$!-]/.test(next)) {
    host.pos += 2;
    b.literal = false;
  } else {
    host.pos += 1;
    b.value += '$';
  }
}

const ANSI_ESCAPES: Readonly<Record<string, string>> = {
  a: '\x07',
  b: '\b',
  e: '\x1b',
  E: '\x1b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  "'": "'",
  '"': '"',
  '?': '?',
};

/** bash `$'...'`: backslash escapes decoded (octal, hex, Unicode, control). */
function readAnsiC(host: WordHost): string {
  const { src } = host;
  let out = '';
  for (;;) {
    const c = src[host.pos];
    if (c === undefined) host.fail("unterminated $'...' string");
    host.pos += 1;
    if (c === "'") return out;
    if (c !== '\\') {
      out += c;
      continue;
    }
    out += ansiEscape(host);
  }
}

function ansiEscape(host: WordHost): string {
  const { src } = host;
  const e = src[host.pos] ?? '';
  host.pos += 1;
  const simple = ANSI_ESCAPES[e];
  if (simple !== undefined) return simple;
  const digits = (re: RegExp, max: number) => {
    let s = '';
    while (s.length < max && re.test(src[host.pos] ?? '')) s += src[host.pos++];
    return s;
  };
  if (/[0-7]/.test(e)) return String.fromCharCode(Number.parseInt(e + digits(/[0-7]/, 2), 8));
  if (e === 'x' || e === 'u' || e === 'U') {
    const hex = digits(/[0-9a-fA-F]/, e === 'x' ? 2 : e === 'u' ? 4 : 8);
    if (hex === '') return `\\${e}`;
    const code = Number.parseInt(hex, 16);
    return code <= 0x10ffff ? String.fromCodePoint(code) : '';
  }
  if (e === 'c') {
    const ch = src[host.pos] ?? '';
    host.pos += 1;
    return String.fromCharCode(ch.charCodeAt(0) & 0x1f);
  }
  return `\\${e}`;
}

/** `${...}` up to its closing brace: nested quotes and expansions are honoured. */
function readBraced(host: WordHost): void {
  const { src } = host;
  const b = { value: '', literal: true } as Builder;
  let depth = 0;
  for (;;) {
    const c = src[host.pos];
    if (c === undefined) host.fail('unterminated parameter expansion');
    if (c === '}' && depth === 0) {
      host.pos += 1;
      return;
    }
    if (c === '{') depth += 1;
    else if (c === '}') depth -= 1;
    if (c === '\\') host.pos += 2;
    else if (c === "'") {
      const end = src.indexOf("'", host.pos + 1);
      if (end < 0) host.fail('unterminated single quote', host.pos);
      host.pos = end + 1;
    } else if (c === '"') {
      host.pos += 1;
      readDoubleQuoted(host, b, '"');
    } else if (c === '$') readDollar(host, b, true);
    else if (c === '`') readBackquoted(host);
    else host.pos += 1;
  }
}

/** `$(( ... ))`: skipped up to the matching `))`; command substitutions inside still run. */
export function readArithmetic(host: WordHost): void {
  const { src } = host;
  const b = { value: '', literal: true } as Builder;
  let depth = 0;
  for (;;) {
    const c = src[host.pos];
    if (c === undefined) host.fail('unterminated arithmetic expression');
    if (c === ')' && depth === 0) {
      if (src[host.pos + 1] !== ')') host.fail('expected )) to close the arithmetic expression');
      host.pos += 2;
      return;
    }
    if (c === '(') depth += 1;
    else if (c === ')') depth -= 1;
    if (c === '$') readDollar(host, b, true);
    else if (c === '`') readBackquoted(host);
    else if (c === '\\') host.pos += 2;
    else host.pos += 1;
  }
}

/** `` `...` ``: inside, `\` escapes only `$`, `` ` `` and `\`; the text is parsed as a script. */
function readBackquoted(host: WordHost): void {
  const { src } = host;
  const open = host.pos;
  host.pos += 1;
  let text = '';
  for (;;) {
    const c = src[host.pos];
    if (c === undefined) host.fail('unterminated backquote', open);
    host.pos += 1;
    if (c === '`') break;
    if (c === '\\' && '$`\\'.includes(src[host.pos] ?? '')) {
      text += src[host.pos];
      host.pos += 1;
    } else text += c;
  }
  host.backquoted(text);
}
