/**
 * Server-sent events, sans-I/O: `push(bytes) → events` and `encodeSse(event) → text`.
 *
 * Parsing follows the WHATWG HTML standard, "9.2.6 Interpreting an event stream"
 * (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):
 * lines end in CRLF, LF or CR; "If the line is empty (a blank line): Dispatch the event"; a line
 * starting with ':' is a comment; `field: value` with one leading space removed from the value;
 * several `data` lines are joined with LF. One event may hold at most `maxEventBytes`.
 */
import { GatewayError } from '../../errors.ts';

export interface SseEvent {
  /** `event:` field; absent means the default type `message`. */
  readonly event?: string;
  readonly data: string;
  readonly id?: string;
  readonly retry?: number;
  /** Comment lines (without the colon), kept so a re-encoded stream keeps its keep-alives. */
  readonly comments?: readonly string[];
}

const DEFAULT_MAX_EVENT = 8 * 1024 * 1024;

/**
 * @example
 * const p = new SseParser();
 * p.push(new TextEncoder().encode('data: {"a":1}\n\n')); // [{ data: '{"a":1}' }]
 */
export class SseParser {
  readonly #decoder = new TextDecoder('utf-8');
  readonly #max: number;
  #buffer = '';
  #data: string[] = [];
  #event: string | undefined;
  #id: string | undefined;
  #retry: number | undefined;
  #comments: string[] = [];
  #size = 0;
  /** The previous chunk ended in CR: an LF starting the next one belongs to it. */
  #skipLf = false;

  constructor(opts: { maxEventBytes?: number } = {}) {
    this.#max = opts.maxEventBytes ?? DEFAULT_MAX_EVENT;
  }

  push(chunk: Uint8Array): SseEvent[] {
    return this.#lines(this.#decoder.decode(chunk, { stream: true }));
  }

  /** End of stream: per the standard, an event without its blank line is discarded. */
  end(): SseEvent[] {
    const out = this.#lines(this.#decoder.decode());
    this.#reset();
    this.#buffer = '';
    return out;
  }

  #lines(text: string): SseEvent[] {
    const out: SseEvent[] = [];
    let s = text;
    if (this.#skipLf && s.startsWith('\n')) s = s.slice(1);
    this.#skipLf = false;
    this.#buffer += s;
    this.#size += s.length;
    let start = 0;
    const buf = this.#buffer;
    for (let i = 0; i < buf.length; i++) {
      const c = buf.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      const line = buf.slice(start, i);
      if (c === 13) {
        if (i + 1 === buf.length) this.#skipLf = true;
        else if (buf.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
      const ev = this.#line(line);
      if (ev) out.push(ev);
    }
    this.#buffer = buf.slice(start);
    if (this.#size > this.#max) {
      throw new GatewayError('GW_UPSTREAM_MALFORMED', 'an event-stream event is too large');
    }
    return out;
  }

  #line(line: string): SseEvent | undefined {
    if (line === '') return this.#dispatch();
    if (line.charCodeAt(0) === 58) {
      this.#comments.push(line.slice(1).replace(/^ /, ''));
      return undefined;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.#data.push(value);
    else if (field === 'event') this.#event = value;
    else if (field === 'id' && !value.includes('\0')) this.#id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.#retry = Number(value);
    return undefined;
  }

  #dispatch(): SseEvent | undefined {
    const hasData = this.#data.length > 0;
    const comments = this.#comments;
    const ev: SseEvent | undefined =
      hasData || comments.length > 0
        ? {
            data: this.#data.join('\n'),
            ...(this.#event !== undefined && this.#event !== '' ? { event: this.#event } : {}),
            ...(this.#id !== undefined ? { id: this.#id } : {}),
            ...(this.#retry !== undefined ? { retry: this.#retry } : {}),
            ...(comments.length > 0 ? { comments } : {}),
          }
        : undefined;
    this.#reset();
    return ev;
  }

  #reset(): void {
    this.#data = [];
    this.#event = undefined;
    this.#id = undefined;
    this.#retry = undefined;
    this.#comments = [];
    this.#size = this.#buffer.length;
  }
}

/**
 * Encodes one event; data with line breaks becomes several `data:` lines.
 *
 * @example
 * encodeSse({ event: 'message_stop', data: '{}' }); // 'event: message_stop\ndata: {}\n\n'
 */
export function encodeSse(ev: SseEvent): string {
  let out = '';
  for (const c of ev.comments ?? []) out += `: ${c}\n`;
  if (ev.event !== undefined) out += `event: ${ev.event}\n`;
  if (ev.id !== undefined) out += `id: ${ev.id}\n`;
  if (ev.retry !== undefined) out += `retry: ${ev.retry}\n`;
  const hasData = ev.data !== '' || ev.comments === undefined || ev.event !== undefined;
  if (hasData) for (const line of ev.data.split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
  return `${out}\n`;
}

/** Whether an event carries data (a comment-only event does not). */
export function isDataEvent(ev: SseEvent): boolean {
  return ev.data !== '' || ev.comments === undefined;
}
