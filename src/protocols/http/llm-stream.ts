/**
 * A streamed LLM response on its way to the client: SSE parsed event by event, the response
 * assembled for the ledger, and on a masked session every text stream (each choice's content,
 * each tool call's arguments) held back and masked across chunk boundaries. Without masking the
 * upstream's bytes are forwarded as they arrive.
 */
import type { StreamMasker } from '../../masking/stream-masker.ts';
import { encodeSse, type SseEvent, SseParser } from '../llm/sse.ts';
import type { LlmResponseRecord, StreamState, StreamStep } from '../llm/types.ts';
import type { BodyMasker } from './body-masker.ts';

/**
 * @example
 * const t = new LlmStreamTransform({ state: openai.newStream(req, opts), masker, rewrite: true });
 * res.write(t.push(chunk)); ... res.end(t.end());
 */
export class LlmStreamTransform {
  readonly #state: StreamState;
  readonly #masker: BodyMasker | null;
  readonly #rewrite: boolean;
  readonly #parser = new SseParser();
  readonly #streams = new Map<string, StreamMasker>();
  #events = 0;

  constructor(opts: { state: StreamState; masker: BodyMasker | null; rewrite: boolean }) {
    this.#state = opts.state;
    this.#masker = opts.masker;
    this.#rewrite = opts.rewrite || opts.masker !== null;
  }

  /** Number of events seen so far. */
  get events(): number {
    return this.#events;
  }

  /** What to send the client for this chunk: the chunk itself, or re-encoded events. */
  push(chunk: Buffer): Buffer | string {
    const events = this.#parser.push(chunk);
    if (!this.#rewrite) {
      for (const ev of events) this.#observe(ev);
      return chunk;
    }
    let out = '';
    for (const ev of events) out += this.#transform(ev);
    return out;
  }

  /** The end of the upstream's stream: held text that is left, masked. */
  end(): string {
    const events = this.#parser.end();
    if (!this.#rewrite) {
      for (const ev of events) this.#observe(ev);
      return '';
    }
    let out = '';
    for (const ev of events) out += this.#transform(ev);
    return out + this.#flushAll();
  }

  record(): LlmResponseRecord {
    return this.#state.record();
  }

  #observe(ev: SseEvent): void {
    this.#events++;
    this.#state.step(ev);
  }

  #transform(ev: SseEvent): string {
    this.#events++;
    const step = this.#state.step(ev);
    if (step === undefined) return this.#opaque(ev);
    if (step.drop) return '';
    const { changed, ended } = this.#slots(step);
    let pre = '';
    for (const key of step.ends) {
      if (ended.has(key)) continue;
      const rest = this.#streams.get(key)?.flush() ?? '';
      this.#streams.delete(key);
      if (rest !== '') pre += encodeSse(this.#state.flushEvent(key, rest));
    }
    if (step.whole && this.#masker) {
      const masked = this.#masker.json(ev.data);
      if (masked !== null) return pre + encodeSse({ ...ev, data: masked });
    }
    return pre + encodeSse(changed ? step.encode() : ev);
  }

  /** Each piece of text through its stream's masker; a stream ending here flushes into it. */
  #slots(step: StreamStep): { changed: boolean; ended: Set<string> } {
    const ended = new Set<string>();
    let changed = false;
    if (!this.#masker) return { changed, ended };
    const ends = new Set(step.ends);
    for (const slot of step.slots) {
      const m = this.#streamFor(slot.key);
      let text = m.push(slot.text);
      if (ends.has(slot.key)) {
        text += m.flush();
        this.#streams.delete(slot.key);
        ended.add(slot.key);
      }
      if (text !== slot.text) {
        slot.set(text);
        changed = true;
      }
    }
    return { changed, ended };
  }

  /** `[DONE]`, comments and events that are not JSON: held text goes out first. */
  #opaque(ev: SseEvent): string {
    const pre = ev.data === '[DONE]' ? this.#flushAll() : '';
    const masked = this.#masker && ev.data !== '[DONE]' ? this.#masker.text(ev.data) : null;
    return pre + encodeSse(masked === null ? ev : { ...ev, data: masked });
  }

  #flushAll(): string {
    let out = '';
    for (const [key, m] of this.#streams) {
      const rest = m.flush();
      if (rest !== '') out += encodeSse(this.#state.flushEvent(key, rest));
    }
    this.#streams.clear();
    return out;
  }

  #streamFor(key: string): StreamMasker {
    let m = this.#streams.get(key);
    if (!m) {
      m = (this.#masker as BodyMasker).stream();
      this.#streams.set(key, m);
    }
    return m;
  }
}
