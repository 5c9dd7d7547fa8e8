/**
 * The canonical JSON of an event's `data` for the two records every forwarded statement writes
 * (the command as requested and its result), built directly with the keys in canonical order.
 * Any other shape, or anything unusual in these, is written by canonicalJson, so the output is
 * always exactly `canonicalJson(data)` (event-codec.test.ts checks this for varied inputs).
 */
import { canonicalJson, quoteJson } from './canonical.ts';

/**
 * `canonicalJson(data)`, faster for a recorded SQL command and a command result.
 *
 * @example
 * dataJson({ outcome: 'ok', tags: ['SELECT 1'], rows: 1, bytes: 19, durationMs: 0.2 });
 */
export function dataJson(data: object): string {
  const d = data as Record<string, unknown>;
  return resultJson(d) ?? requestedJson(d) ?? canonicalJson(data);
}

/** Optional string members of a recorded SQL command, in the order the pipeline adds them. */
const REQUESTED_OPTIONAL = ['rule', 'reviewId', 'causedBy'] as const;

/**
 * A SQL command as the pipeline records it (`command`, `decision`, then maybe `rule`, `reviewId`,
 * `causedBy`, then `statements` or `parseError`), with its keys in canonical order; undefined for
 * anything else. The statements are written by canonicalJson (frozen, so usually cached).
 */
function requestedJson(d: Record<string, unknown>): string | undefined {
  const keys = Object.keys(d);
  const n = keys.length;
  if (n < 3 || keys[0] !== 'command' || keys[1] !== 'decision' || !isPlainRecord(d)) {
    return undefined;
  }
  const { command, decision } = d;
  if (typeof command !== 'object' || command === null || typeof decision !== 'string') {
    return undefined;
  }
  const optional: (string | undefined)[] = [undefined, undefined, undefined];
  let k = 2;
  for (let i = 0; i < REQUESTED_OPTIONAL.length && k < n - 1; i++) {
    if (keys[k] !== REQUESTED_OPTIONAL[i]) continue;
    const v = d[keys[k] as string];
    if (typeof v !== 'string') return undefined;
    optional[i] = `,"${keys[k]}":${quoteJson(v)}`;
    k++;
  }
  if (k !== n - 1) return undefined;
  const last = keys[k];
  const tailValue = d[last as string];
  let statements = '';
  let parseError = '';
  if (last === 'statements' && tailValue !== undefined) {
    statements = `,"statements":${canonicalJson(tailValue)}`;
  } else if (last === 'parseError' && typeof tailValue === 'string') {
    parseError = `,"parseError":${quoteJson(tailValue)}`;
  } else {
    return undefined;
  }
  const [rule = '', reviewId = '', causedBy = ''] = optional;
  const head = causedBy === '' ? '{' : `{${causedBy.slice(1)},`;
  return `${head}"command":${sqlCommandJson(command)},"decision":${quoteJson(decision)}${parseError}${reviewId}${rule}${statements}}`;
}

/** A simple-protocol SQL command (`kind`, `protocol`, `text`, `params: null`) directly. */
function sqlCommandJson(c: object): string {
  const keys = Object.keys(c);
  const { kind, protocol, text, params } = c as Record<string, unknown>;
  if (
    keys.length === 4 &&
    keys[0] === 'kind' &&
    keys[1] === 'protocol' &&
    keys[2] === 'text' &&
    keys[3] === 'params' &&
    params === null &&
    typeof kind === 'string' &&
    typeof protocol === 'string' &&
    typeof text === 'string' &&
    isPlainRecord(c)
  ) {
    return `{"kind":${quoteJson(kind)},"params":null,"protocol":${quoteJson(protocol)},"text":${quoteJson(text)}}`;
  }
  return canonicalJson(c);
}

/**
 * A PostgreSQL command's result as the relay builds it (`outcome`, `tags`, `rows`, `bytes`,
 * `durationMs`, then maybe `error`), written with its keys in canonical order; undefined for
 * anything else, which canonicalJson then writes. event-codec.test.ts checks both agree.
 */
function resultJson(d: Record<string, unknown>): string | undefined {
  const keys = Object.keys(d);
  const n = keys.length;
  if (
    (n !== 5 && !(n === 6 && keys[5] === 'error')) ||
    keys[0] !== 'outcome' ||
    keys[1] !== 'tags' ||
    keys[2] !== 'rows' ||
    keys[3] !== 'bytes' ||
    keys[4] !== 'durationMs' ||
    !isPlainRecord(d)
  ) {
    return undefined;
  }
  const { outcome, tags, rows, bytes, durationMs } = d;
  if (
    typeof outcome !== 'string' ||
    !Number.isFinite(rows) ||
    !Number.isFinite(bytes) ||
    !Number.isFinite(durationMs)
  ) {
    return undefined;
  }
  const tagsJson = stringsJson(tags);
  if (tagsJson === undefined) return undefined;
  let errorJson = '';
  if (n === 6) {
    const error = d.error as Record<string, unknown> | undefined;
    if (typeof error !== 'object' || error === null || !isPlainRecord(error)) return undefined;
    const errorKeys = Object.keys(error);
    const { code, message } = error;
    if (
      errorKeys.length !== 2 ||
      errorKeys[0] !== 'code' ||
      errorKeys[1] !== 'message' ||
      typeof code !== 'string' ||
      typeof message !== 'string'
    ) {
      return undefined;
    }
    errorJson = `,"error":{"code":${quoteJson(code)},"message":${quoteJson(message)}}`;
  }
  return `{"bytes":${bytes},"durationMs":${durationMs}${errorJson},"outcome":${quoteJson(outcome)},"rows":${rows},"tags":${tagsJson}}`;
}

/** A plain array of strings as JSON, or undefined. */
function stringsJson(v: unknown): string | undefined {
  if (!Array.isArray(v) || Object.getPrototypeOf(v) !== Array.prototype) return undefined;
  let out = '[';
  for (let i = 0; i < v.length; i++) {
    const s: unknown = v[i];
    if (typeof s !== 'string') return undefined;
    out += i === 0 ? quoteJson(s) : `,${quoteJson(s)}`;
  }
  return `${out}]`;
}

/** An object canonicalJson writes member by member: plain, without `toJSON`. */
function isPlainRecord(o: object): boolean {
  const proto: unknown = Object.getPrototypeOf(o);
  return (
    (proto === Object.prototype || proto === null) &&
    (o as { toJSON?: unknown }).toJSON === undefined
  );
}
