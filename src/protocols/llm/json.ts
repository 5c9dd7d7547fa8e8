/**
 * Reading untrusted JSON (a client's request, an upstream's response) without trusting its shape.
 */

export type Json = Readonly<Record<string, unknown>>;

/** @example obj({ a: 1 }); // { a: 1 }  — obj([1]) and obj('x') are undefined */
export function obj(v: unknown): Json | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
}

/** @example arr('x'); // [] */
export function arr(v: unknown): readonly unknown[] {
  return Array.isArray(v) ? v : [];
}

/** @example str(1); // undefined */
export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** A non-negative safe integer, else undefined. */
export function int(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}

/**
 * Text of a message `content`: a string, or the `text` of its parts (OpenAI and Anthropic both
 * use `[{ type: 'text', text }]`; tool results nest content once more).
 *
 * @example
 * contentText([{ type: 'text', text: 'a' }, { type: 'image_url' }]); // 'a'
 */
export function contentText(content: unknown, depth = 0): string {
  if (typeof content === 'string') return content;
  if (depth > 4) return '';
  const parts: string[] = [];
  for (const p of arr(content)) {
    const o = obj(p);
    if (o === undefined) continue;
    const text = str(o.text) ?? str(o.input_text) ?? str(o.output);
    if (text !== undefined) parts.push(text);
    else if (o.content !== undefined) parts.push(contentText(o.content, depth + 1));
    else if (o.input !== undefined) parts.push(JSON.stringify(o.input));
  }
  return parts.join('\n');
}

/** A generous token estimate for budget reservations: one token per 3 characters, plus framing. */
export function estimateTokens(text: string, items = 1): number {
  return Math.ceil(text.length / 3) + 4 * items;
}

/** A tool definition as the ledger keeps it: its name (descriptions and schemas are long). */
export function toolNames(tools: unknown): string[] {
  const names: string[] = [];
  for (const t of arr(tools)) {
    const o = obj(t);
    const name = str(obj(o?.function)?.name) ?? str(o?.name) ?? str(o?.type);
    if (name !== undefined) names.push(name);
  }
  return names;
}

/** The request parameters worth recording (never the messages: they are recorded separately). */
export function params(body: Json, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const v = body[k];
    if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') out[k] = v;
  }
  return out;
}
