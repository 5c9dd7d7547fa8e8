/**
 * The asciicast v2 format, sans-I/O: a JSON header line, then one JSON array per event
 * `[seconds, code, data]` with code `o` (output), `i` (input), `r` (resize, `COLSxROWS`) or
 * `m` (marker). Recordings play in asciinema and in `airlock audit replay`.
 *
 * https://docs.asciinema.org/manual/asciicast/v2/
 */

export interface AsciicastHeader {
  readonly version: 2;
  readonly width: number;
  readonly height: number;
  /** Unix time (seconds) the recording started. */
  readonly timestamp: number;
  readonly title?: string;
  readonly env?: Readonly<Record<string, string>>;
}

export type EventCode = 'o' | 'i' | 'r' | 'm';

export interface AsciicastEvent {
  /** Seconds since the start. */
  readonly time: number;
  readonly code: EventCode;
  readonly data: string;
}

/**
 * @example
 * encodeHeader({ version: 2, width: 80, height: 24, timestamp: 1700000000 }); // '{"version":2,...}\n'
 */
export function encodeHeader(h: AsciicastHeader): string {
  return `${JSON.stringify(h)}\n`;
}

/**
 * @example
 * encodeEvent({ time: 0.25, code: 'o', data: 'hi\r\n' }); // '[0.25,"o","hi\\r\\n"]\n'
 */
export function encodeEvent(e: AsciicastEvent): string {
  return `${JSON.stringify([Math.round(e.time * 1e6) / 1e6, e.code, e.data])}\n`;
}

/** A recording that does not follow the format. */
export class AsciicastError extends Error {}

/**
 * Parses a whole recording.
 *
 * @example
 * const { header, events } = parseAsciicast(readFileSync(file, 'utf8'));
 */
export function parseAsciicast(text: string): {
  header: AsciicastHeader;
  events: AsciicastEvent[];
} {
  const lines = text.split('\n').filter((l) => l.length > 0);
  const header = parseLine(lines[0], 1) as AsciicastHeader;
  if (header?.version !== 2) throw new AsciicastError('line 1: not an asciicast v2 header');
  const events = lines.slice(1).map((line, i) => {
    const e = parseLine(line, i + 2);
    if (!Array.isArray(e) || typeof e[0] !== 'number' || !['o', 'i', 'r', 'm'].includes(e[1])) {
      throw new AsciicastError(`line ${i + 2}: not an event`);
    }
    return { time: e[0], code: e[1] as EventCode, data: String(e[2] ?? '') };
  });
  return { header, events };
}

function parseLine(line: string | undefined, n: number): unknown {
  try {
    return JSON.parse(line ?? '');
  } catch {
    throw new AsciicastError(`line ${n}: not JSON`);
  }
}
