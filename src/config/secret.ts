/**
 * A secret value from config (a backend password, a key). It never prints: `String(s)`,
 * `JSON.stringify(s)` and `util.inspect(s)` all give `[redacted]`. Read it with `reveal()`.
 *
 * @example
 * const pw = new Secret('hunter2');
 * `${pw}` === '[redacted]'; pw.reveal() === 'hunter2';
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return '[redacted]';
  }

  toJSON(): string {
    return '[redacted]';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'Secret([redacted])';
  }
}
