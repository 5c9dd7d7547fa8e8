/**
 * Reading libpg_query's JSON parse trees: `Node *` fields are wrapped as `{ TypeName: {...} }`,
 * typed struct fields are bare, and false members are omitted.
 */

export type Node = Readonly<Record<string, unknown>>;

/**
 * The text of a constant `'x'`, `'x'::text` or `1`, else undefined.
 *
 * @example
 * constant({ A_Const: { sval: { sval: 'role' } } }); // 'role'
 */
export function constant(value: unknown): string | undefined {
  let node = unwrap(value);
  while (node !== undefined && node[0] === 'TypeCast') node = unwrap(node[1].arg);
  if (node === undefined || node[0] !== 'A_Const') return undefined;
  const { sval, ival } = node[1];
  if (isObject(sval) && typeof sval.sval === 'string') return sval.sval;
  if (isObject(ival)) return String(ival.ival ?? 0);
  return undefined;
}

/**
 * Whether EXPLAIN options ask for ANALYZE (which runs the statement), read like PostgreSQL's
 * `defGetBoolean`, leaning to true for anything it would not read as false.
 *
 * @example
 * isAnalyze([{ DefElem: { defname: 'analyze' } }]); // true
 */
export function isAnalyze(options: unknown): boolean {
  if (!Array.isArray(options)) return false;
  return options.some((option) => {
    const def = unwrap(option)?.[1];
    return def !== undefined && def.defname === 'analyze' && !isFalse(def.arg);
  });
}

function isFalse(arg: unknown): boolean {
  const wrapped = unwrap(arg);
  if (wrapped === undefined) return false;
  const [type, value] = wrapped;
  if (type === 'Boolean') return value.boolval !== true;
  if (type === 'Integer') return value.ival === undefined || value.ival === 0;
  if (type !== 'String') return false;
  const word = String(value.sval ?? '').toLowerCase();
  return word === '0' || word === 'off' || word === 'of' || isPrefix(word, 'false', 'no');
}

function isPrefix(word: string, ...targets: string[]): boolean {
  return word.length > 0 && targets.some((t) => t.startsWith(word));
}

/**
 * A JSON object (not an array).
 *
 * @example
 * isObject([]); // false
 */
export function isObject(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * `{ TypeName: {...} }` → `['TypeName', {...}]`; anything else → undefined.
 *
 * @example
 * unwrap({ DoStmt: { args: [] } }); // ['DoStmt', { args: [] }]
 */
export function unwrap(value: unknown): [string, Node] | undefined {
  if (!isObject(value)) return undefined;
  let found: [string, Node] | undefined;
  for (const key in value) {
    const inner = value[key];
    const upper = key.charCodeAt(0) >= 65 && key.charCodeAt(0) <= 90;
    if (found !== undefined || !upper || !isObject(inner)) return undefined;
    found = [key, inner];
  }
  return found;
}

/**
 * Freezes `root` and everything reachable from it, without recursion (trees can be deep).
 *
 * @example
 * const facts = deepFreeze({ tables: [] });
 */
export function deepFreeze<T>(root: T): T {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value !== 'object' || value === null || Object.isFrozen(value)) continue;
    Object.freeze(value);
    for (const key in value) stack.push((value as Record<string, unknown>)[key]);
  }
  return root;
}
