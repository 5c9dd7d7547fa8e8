/**
 * Masking styles: what a sensitive value becomes. All are pure; `format` and `hash` are keyed by
 * the configured salt, so the same value always gives the same output (joins and GROUP BY still
 * work on masked data) while the output cannot be reversed without the salt.
 */

import type { MaskStyle } from './config.ts';
import { HmacSha256 } from './hmac.ts';

export const FULL_MASK = '****';
const TOKEN_HEX_CHARS = 24;
const DIGIT = /\p{Nd}/u;
const LETTER = /\p{L}/u;
const UPPER = /\p{Lu}/u;

/**
 * @example
 * applyStyle('last4', '4111 1111 1111 1111'); // '**** **** **** 1111'
 * applyStyle('hash', 'amelia@example.com', salt); // 'tok_3f9a…' (24 hex digits)
 */
export function applyStyle(style: MaskStyle, value: string, salt?: SaltKey): string {
  switch (style) {
    case 'full':
      return FULL_MASK;
    case 'last4':
      return maskLast4(value);
    case 'format':
      return maskFormat(value, requireSalt(salt));
    case 'hash':
      return maskHash(value, requireSalt(salt));
  }
}

/** The salt as raw bytes, or (much faster: pads precomputed once) from `saltKey`. */
export type SaltKey = Uint8Array | HmacSha256;

/** Prepares the salt once for many values. */
export function saltKey(salt: Uint8Array): HmacSha256 {
  return new HmacSha256(salt);
}

function requireSalt(salt: SaltKey | undefined): HmacSha256 {
  if (salt instanceof HmacSha256) return salt;
  if (!salt || salt.length === 0) throw new Error('masking salt is not configured');
  return new HmacSha256(salt);
}

/** Letters and digits become `*` except the last four; separators stay. Four or fewer: `****`. */
export function maskLast4(value: string): string {
  const chars = [...value];
  const alnum = chars.filter(isAlnum).length;
  if (alnum <= 4) return FULL_MASK;
  const keepFrom = alnum - 4;
  let seen = 0;
  return chars.map((ch) => (!isAlnum(ch) ? ch : seen++ >= keepFrom ? ch : '*')).join('');
}

/**
 * Format-preserving: each digit becomes a digit, each letter a letter of the same case (ASCII),
 * everything else stays; same length in characters. Deterministic per (salt, value).
 */
export function maskFormat(value: string, salt: SaltKey): string {
  const stream = keyStream(requireSalt(salt), value);
  let out = '';
  for (const ch of value) {
    if (DIGIT.test(ch)) out += String.fromCharCode(48 + (stream.next() % 10));
    else if (LETTER.test(ch)) {
      out += String.fromCharCode((UPPER.test(ch) ? 65 : 97) + (stream.next() % 26));
    } else out += ch;
  }
  return out;
}

/** `tok_` and 96 bits of HMAC-SHA256(salt, value), hex. */
export function maskHash(value: string, salt: SaltKey): string {
  const mac = requireSalt(salt).digestOf('hash\0', value, MAC_OUT);
  let token = 'tok_';
  for (let i = 0; i < TOKEN_HEX_CHARS / 2; i++) token += HEX[mac[i] as number];
  return token;
}

const MAC_OUT = new Uint8Array(32);
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function isAlnum(ch: string): boolean {
  return DIGIT.test(ch) || LETTER.test(ch);
}

/** Bytes of HMAC-SHA256(salt, "format" || counter || value), block after block. */
function keyStream(mac: HmacSha256, value: string): { next(): number } {
  const block = new Uint8Array(32);
  let pos = block.length;
  let counter = 0;
  return {
    next(): number {
      if (pos >= block.length) {
        mac.digestOf(`format\0${counter++}\0`, value, block);
        pos = 0;
      }
      return block[pos++] as number;
    },
  };
}
