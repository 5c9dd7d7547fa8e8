/**
 * The real PostgreSQL raw parser (libpg_query compiled to WebAssembly, from the `libpg-query`
 * package), called synchronously after a one-time async load.
 *
 * We drive the Emscripten module ourselves instead of using the package's `parseSync` so that we
 * can replace a broken instance. A statement whose parse tree is deep enough (`SELECT 1+1+…+1`
 * with ~10k terms is only 20 KB) overflows the JavaScript stack inside the WebAssembly code; the
 * C code never unwinds, so that instance leaks its memory context and its shadow stack, and
 * after a few dozen such statements it hits a PostgreSQL FATAL that calls `exit()`, which
 * Emscripten turns into `process.exitCode = 1`. So after any failure other than an ordinary
 * parse error the instance is dropped, a warm spare takes over, and a new spare is built in the
 * background.
 */

import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { ParseResult } from 'libpg-query';

/** What one parse produced: the raw parse tree, or PostgreSQL's error. */
export type PgParseOutcome =
  | { ok: true; result: ParseResult }
  | { ok: false; error: string; position?: number; transient?: true };

/** The part of the Emscripten module (see `libpg-query/wasm/index.js`) that we call. */
interface PgQueryModule {
  _malloc(size: number): number;
  _free(ptr: number): void;
  _wasm_parse_query_raw(queryPtr: number): number;
  _wasm_free_parse_result(resultPtr: number): void;
  getValue(ptr: number, type: 'i32'): number;
  lengthBytesUTF8(text: string): number;
  stringToUTF8(text: string, ptr: number, maxBytes: number): void;
  UTF8ToString(ptr: number): string;
}

type PgQueryFactory = (options: Record<string, unknown>) => Promise<PgQueryModule>;

/** The WebAssembly API we use (the project's `lib` has no DOM, where its types live). */
interface WasmApi {
  compile(bytes: Uint8Array): Promise<WasmModule>;
  Instance: new (module: WasmModule, imports: unknown) => unknown;
}
type WasmModule = { readonly __brand: 'WebAssembly.Module' };
const { WebAssembly: wasmApi } = globalThis as unknown as { WebAssembly: WasmApi };

const require = createRequire(import.meta.url);
const factory = require('libpg-query/wasm/libpg-query.js') as PgQueryFactory;
const WASM_PATH = require.resolve('libpg-query/wasm/libpg-query.wasm');

let compiled: WasmModule | undefined;
let loading: Promise<void> | undefined;
let current: PgQueryModule | undefined;
let spare: PgQueryModule | undefined;
let building = false;

/**
 * Loads and compiles the parser once; later calls return the same promise.
 *
 * @example
 * await initPgParser();
 * parsePg('SELECT 1');
 */
export function initPgParser(): Promise<void> {
  loading ??= load().catch((err: unknown) => {
    loading = undefined;
    throw err;
  });
  return loading;
}

/**
 * True once {@link initPgParser} has finished.
 *
 * @example
 * if (!isPgParserLoaded()) await initPgParser();
 */
export function isPgParserLoaded(): boolean {
  return compiled !== undefined;
}

/**
 * Parses `text` synchronously. Never throws once loaded: a PostgreSQL error comes back as
 * `ok: false` with its message and 0-based character position; a failure of the parser itself
 * (stack exhaustion, out of memory) comes back as `ok: false, transient: true`.
 *
 * @example
 * parsePg('SELEC 1'); // { ok: false, error: 'syntax error at or near "SELEC"', position: 0 }
 */
export function parsePg(text: string): PgParseOutcome {
  if (compiled === undefined) {
    throw new Error('SQL parser is not initialised: await initSqlParser() first');
  }
  const mod = current;
  if (mod === undefined) return unavailable();
  const exitCode = process.exitCode;
  try {
    return parseWith(mod, text);
  } catch {
    process.exitCode = exitCode;
    retire(mod);
    return { ok: false, error: 'statement is too complex to parse', transient: true };
  }
}

async function load(): Promise<void> {
  const wasm = await wasmApi.compile(await readFile(WASM_PATH));
  const [first, second] = await Promise.all([instantiate(wasm), instantiate(wasm)]);
  current = first;
  spare = second;
  compiled = wasm;
}

function instantiate(wasm: WasmModule): Promise<PgQueryModule> {
  const ignore = (): void => {};
  return factory({
    print: ignore,
    printErr: ignore,
    instantiateWasm(imports: unknown, done: (instance: unknown) => void) {
      done(new wasmApi.Instance(wasm, imports));
      return {};
    },
  });
}

function retire(mod: PgQueryModule): void {
  if (current !== mod) return;
  current = spare;
  spare = undefined;
  replenish();
}

function replenish(): void {
  if (building || compiled === undefined) return;
  building = true;
  instantiate(compiled)
    .then((mod) => {
      if (current === undefined) current = mod;
      else spare = mod;
    })
    .catch(() => {})
    .finally(() => {
      building = false;
      if (current === undefined || spare === undefined) setImmediate(replenish);
    });
}

function unavailable(): PgParseOutcome {
  replenish();
  return { ok: false, error: 'SQL parser is restarting; try again', transient: true };
}

function parseWith(mod: PgQueryModule, text: string): PgParseOutcome {
  const size = mod.lengthBytesUTF8(text) + 1;
  const queryPtr = mod._malloc(size);
  if (queryPtr === 0) throw new Error('parser out of memory');
  let resultPtr = 0;
  try {
    mod.stringToUTF8(text, queryPtr, size);
    resultPtr = mod._wasm_parse_query_raw(queryPtr);
    if (resultPtr === 0) throw new Error('parser out of memory');
    return readResult(mod, resultPtr);
  } finally {
    mod._free(queryPtr);
    if (resultPtr !== 0) mod._wasm_free_parse_result(resultPtr);
  }
}

/** Reads `PgQueryParseResult { char *parse_tree; char *stderr_buffer; PgQueryError *error; }`. */
function readResult(mod: PgQueryModule, resultPtr: number): PgParseOutcome {
  const errorPtr = mod.getValue(resultPtr + 8, 'i32');
  if (errorPtr !== 0) return readError(mod, errorPtr);
  const treePtr = mod.getValue(resultPtr, 'i32');
  if (treePtr === 0) throw new Error('parser produced no tree');
  return { ok: true, result: JSON.parse(mod.UTF8ToString(treePtr)) as ParseResult };
}

/** Reads `PgQueryError { char *message; char *funcname; char *filename; int lineno; int cursorpos; }`. */
function readError(mod: PgQueryModule, errorPtr: number): PgParseOutcome {
  const messagePtr = mod.getValue(errorPtr, 'i32');
  const error = messagePtr === 0 ? 'syntax error' : mod.UTF8ToString(messagePtr);
  const cursor = mod.getValue(errorPtr + 16, 'i32');
  return cursor > 0 ? { ok: false, error, position: cursor - 1 } : { ok: false, error };
}
