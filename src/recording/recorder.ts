/**
 * Records one terminal session to an asciicast v2 file under `<dir>/<session>/<channel>.cast`
 * (0600), masking secrets on the way (see recording/terminal-masker.ts). Output (and input, when
 * enabled) is held back by the maskers, so events are written in time order only once nothing
 * older is held. The SHA-256 of the exact bytes written is computed as they are written; the
 * engine puts it in the ledger (`session.recorded`), which makes the file tamper-evident.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join, relative } from 'node:path';
import type { SecretScanner } from '../masking/secret-scan.ts';
import { type AsciicastEvent, type EventCode, encodeEvent, encodeHeader } from './asciicast.ts';
import { TerminalMasker, type TimedText } from './terminal-masker.ts';

export interface RecorderOptions {
  /** Where recordings live, e.g. `<data_dir>/recordings`. */
  readonly dir: string;
  /** The file name is `<sessionId>/<name>.cast`. */
  readonly sessionId: string;
  readonly name: string;
  readonly width: number;
  readonly height: number;
  readonly term: string;
  /** Shown by players; must not hold secrets (the engine passes the redacted command). */
  readonly title: string;
  /** Record what the user types too. */
  readonly input: boolean;
  /** Masks secrets when given. */
  readonly scanner: SecretScanner | undefined;
  readonly holdBack: number;
  /** Output bytes recorded before the recording stops (marked truncated). */
  readonly maxBytes: number;
  readonly clock: () => number;
}

export interface RecordingSummary {
  /** Relative to the recordings folder: `<sessionId>/<name>.cast`. */
  readonly file: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly events: number;
  readonly durationMs: number;
  readonly width: number;
  readonly height: number;
  readonly input: boolean;
  /** Secrets masked, by type. */
  readonly masked: Readonly<Record<string, number>>;
  readonly truncated: boolean;
}

/** A pass-through for unmasked recordings. */
class Unmasked {
  readonly counts: Record<string, number> = {};
  readonly oldest = Number.POSITIVE_INFINITY;
  push(text: string, t: number): TimedText[] {
    return text.length > 0 ? [{ t, text }] : [];
  }
  flush(): TimedText[] {
    return [];
  }
}

type Masker = TerminalMasker | Unmasked;

/**
 * @example
 * const rec = await Recorder.open({ dir, sessionId, name: 'ch0', width: 80, height: 24, ... });
 * rec.output(chunk); rec.resize(120, 40);
 * const summary = await rec.close();
 */
export class Recorder {
  readonly #opts: RecorderOptions;
  readonly #file: string;
  readonly #stream: WriteStream;
  readonly #hash = createHash('sha256');
  readonly #start: number;
  readonly #out: Masker;
  readonly #in: Masker | undefined;
  readonly #outText = new TextDecoder('utf-8');
  readonly #inText = new TextDecoder('utf-8');
  #ready: AsciicastEvent[] = [];
  #last = 0;
  #bytes = 0;
  #events = 0;
  #recorded = 0;
  #truncated = false;
  #closed: Promise<RecordingSummary> | undefined;
  #error: Error | undefined;
  #onError: ((err: Error) => void) | undefined;

  private constructor(opts: RecorderOptions, file: string, stream: WriteStream) {
    this.#opts = opts;
    this.#file = file;
    this.#stream = stream;
    this.#start = opts.clock();
    const masker = (): Masker =>
      opts.scanner ? new TerminalMasker(opts.scanner, { holdBack: opts.holdBack }) : new Unmasked();
    this.#out = masker();
    this.#in = opts.input ? masker() : undefined;
    stream.on('error', (err) => this.#fail(err));
    this.#write(
      encodeHeader({
        version: 2,
        width: opts.width,
        height: opts.height,
        timestamp: Math.floor(this.#start / 1000),
        title: opts.title,
        env: { TERM: opts.term },
      }),
    );
  }

  /** Creates the file (never overwriting one) and writes the header; rejects if it cannot. */
  static async open(opts: RecorderOptions): Promise<Recorder> {
    const folder = join(opts.dir, opts.sessionId);
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    const file = join(folder, `${opts.name}.cast`);
    const stream = createWriteStream(file, { flags: 'wx', mode: 0o600 });
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', reject);
    });
    return new Recorder(opts, relative(opts.dir, file), stream);
  }

  /** Set once writing failed; the engine ends the session when recording is required. */
  get error(): Error | undefined {
    return this.#error;
  }

  onError(fn: (err: Error) => void): void {
    this.#onError = fn;
    if (this.#error) fn(this.#error);
  }

  output(chunk: Uint8Array): void {
    if (this.#truncated || this.#closed) return;
    this.#recorded += chunk.length;
    if (this.#recorded > this.#opts.maxBytes) {
      this.#truncated = true;
      this.#side('m', 'airlock: recording truncated (ssh.recording.max_bytes)');
      return;
    }
    const t = this.#now();
    this.#released('o', this.#out.push(this.#outText.decode(chunk, { stream: true }), t));
  }

  input(chunk: Uint8Array): void {
    if (!this.#in || this.#closed) return;
    const t = this.#now();
    this.#released('i', this.#in.push(this.#inText.decode(chunk, { stream: true }), t));
  }

  resize(cols: number, rows: number): void {
    this.#side('r', `${cols}x${rows}`);
  }

  /** A note in the recording, e.g. that a review approved the session. */
  marker(label: string): void {
    this.#side('m', label);
  }

  /** Flushes everything held, closes the file and returns what the ledger records. */
  close(): Promise<RecordingSummary> {
    this.#closed ??= this.#finish();
    return this.#closed;
  }

  async #finish(): Promise<RecordingSummary> {
    const t = this.#now();
    this.#released('o', [...this.#out.push(this.#outText.decode(), t), ...this.#out.flush()]);
    if (this.#in)
      this.#released('i', [...this.#in.push(this.#inText.decode(), t), ...this.#in.flush()]);
    this.#drain(true);
    await new Promise<void>((resolve) => {
      if (this.#stream.destroyed) resolve();
      else this.#stream.end(() => resolve());
    });
    if (this.#error) throw this.#error;
    const masked = { ...this.#out.counts };
    for (const [k, v] of Object.entries(this.#in?.counts ?? {})) masked[k] = (masked[k] ?? 0) + v;
    return {
      file: this.#file,
      sha256: this.#hash.digest('hex'),
      bytes: this.#bytes,
      events: this.#events,
      durationMs: Math.round(t - this.#start),
      width: this.#opts.width,
      height: this.#opts.height,
      input: this.#opts.input,
      masked,
      truncated: this.#truncated,
    };
  }

  /** Strictly increasing milliseconds, so events of every kind merge in order. */
  #now(): number {
    const t = Math.max(this.#opts.clock(), this.#last + 0.001);
    this.#last = t;
    return t;
  }

  #side(code: EventCode, data: string): void {
    if (this.#closed) return;
    this.#ready.push({ time: this.#now(), code, data });
    this.#drain(false);
  }

  #released(code: 'o' | 'i', pieces: readonly TimedText[]): void {
    for (const p of pieces)
      if (p.text.length > 0) this.#ready.push({ time: p.t, code, data: p.text });
    this.#drain(false);
  }

  /** Writes, in time order, every ready event older than anything a masker still holds. */
  #drain(all: boolean): void {
    const limit = all
      ? Number.POSITIVE_INFINITY
      : Math.min(this.#out.oldest, this.#in?.oldest ?? Infinity);
    this.#ready.sort((a, b) => a.time - b.time);
    let n = 0;
    let text = '';
    for (const e of this.#ready) {
      if (e.time >= limit) break;
      text += encodeEvent({ ...e, time: (e.time - this.#start) / 1000 });
      n += 1;
    }
    if (n === 0) return;
    this.#ready = this.#ready.slice(n);
    this.#events += n;
    this.#write(text);
  }

  #write(text: string): void {
    if (this.#error) return;
    const bytes = Buffer.from(text, 'utf8');
    this.#hash.update(bytes);
    this.#bytes += bytes.length;
    this.#stream.write(bytes);
  }

  #fail(err: Error): void {
    if (this.#error) return;
    this.#error = err;
    this.#onError?.(err);
  }
}
