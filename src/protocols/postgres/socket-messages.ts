/**
 * Pull-style reading of decoded messages from a socket, for the handshake phases (startup, TLS,
 * authentication) where the flow is sequential. The relay phase uses push-style handlers instead.
 */
import type { Duplex } from 'node:stream';
import { GatewayError } from '../../errors.ts';

export interface MessageDecoder<T> {
  push(chunk: Uint8Array): T[];
}

/**
 * @example
 * const msgs = new SocketMessages(socket, parser);
 * const first = await msgs.next(10_000);
 * msgs.detach();
 */
export class SocketMessages<T> {
  readonly #socket: Duplex;
  readonly #decoder: MessageDecoder<T>;
  readonly #queue: T[] = [];
  #error: unknown;
  #closed = false;
  #wake: (() => void) | undefined;
  readonly #onData = (chunk: Buffer): void => this.#push(chunk);
  readonly #onEnd = (): void => this.#fail(undefined);
  readonly #onError = (err: Error): void => this.#fail(err);

  constructor(socket: Duplex, decoder: MessageDecoder<T>) {
    this.#socket = socket;
    this.#decoder = decoder;
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('close', this.#onEnd);
    socket.on('error', this.#onError);
  }

  #push(chunk: Uint8Array): void {
    try {
      this.#queue.push(...this.#decoder.push(chunk));
    } catch (err) {
      this.#error = err;
    }
    this.#wake?.();
  }

  #fail(err: unknown): void {
    this.#closed = true;
    if (err !== undefined && this.#error === undefined) this.#error = err;
    this.#wake?.();
  }

  /** Re-reads messages the decoder still holds (after it switched mode). */
  pump(): void {
    this.#push(new Uint8Array(0));
  }

  /** Messages decoded but not yet taken. */
  get pending(): number {
    return this.#queue.length;
  }

  async next(timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.#queue.shift();
      if (m !== undefined) return m;
      if (this.#error !== undefined) throw this.#error;
      if (this.#closed) throw new GatewayError('GW_UPSTREAM_CLOSED', 'connection closed');
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new GatewayError('GW_SESSION_STARTUP_TIMEOUT', 'timed out waiting for the peer');
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  /** Stops reading: removes listeners and pauses the socket. Queued messages are dropped. */
  detach(): void {
    this.#socket.off('data', this.#onData);
    this.#socket.off('end', this.#onEnd);
    this.#socket.off('close', this.#onEnd);
    this.#socket.off('error', this.#onError);
    this.#socket.pause();
  }
}
