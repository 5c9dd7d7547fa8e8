/**
 * The live policy: the compiled policy file, swapped atomically when the file changes (or on
 * SIGHUP). A new version that does not load is refused and the running one stays; each version
 * that takes effect is recorded in the ledger (`policy.changed`) with its hash.
 */
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import type { Logger } from '../telemetry/logger.ts';
import type { PolicyEngine, PolicyInput } from './policy.ts';
import { type CompiledPolicy, loadPolicy } from './rules.ts';

export interface PolicyHolderOptions {
  readonly file: string;
  readonly logger: Logger;
  /** Called for every version that takes effect (the first one included). */
  readonly onChange: (policy: CompiledPolicy, previousHash: string | null) => Promise<void>;
}

/**
 * @example
 * const holder = await PolicyHolder.open({ file: 'policy.yaml', logger, onChange });
 * holder.watch(); ... holder.decide(input); ... holder.close();
 */
export class PolicyHolder implements PolicyEngine {
  readonly #opts: PolicyHolderOptions;
  #current: CompiledPolicy;
  #watching = false;
  #reloading: Promise<boolean> | undefined;

  private constructor(opts: PolicyHolderOptions, first: CompiledPolicy) {
    this.#opts = opts;
    this.#current = first;
  }

  /** Loads the file; a bad policy at start is a start-up error naming the key. */
  static async open(opts: PolicyHolderOptions): Promise<PolicyHolder> {
    const first = loadPolicy(readFileSync(opts.file, 'utf8'), opts.file);
    const holder = new PolicyHolder(opts, first);
    await opts.onChange(first, null);
    return holder;
  }

  get current(): CompiledPolicy {
    return this.#current;
  }

  decide(input: PolicyInput) {
    return this.#current.decide(input);
  }

  /** Re-reads the file; true when a new version took effect. */
  reload(): Promise<boolean> {
    this.#reloading ??= this.#reload().finally(() => {
      this.#reloading = undefined;
    });
    return this.#reloading;
  }

  /** Polls the file for changes (works on every filesystem, survives editors' rename-writes). */
  watch(intervalMs = 1000): void {
    if (this.#watching) return;
    this.#watching = true;
    watchFile(this.#opts.file, { interval: intervalMs, persistent: false }, () => {
      void this.reload();
    });
  }

  close(): void {
    if (this.#watching) unwatchFile(this.#opts.file);
    this.#watching = false;
  }

  async #reload(): Promise<boolean> {
    let next: CompiledPolicy;
    try {
      next = loadPolicy(readFileSync(this.#opts.file, 'utf8'), this.#opts.file);
    } catch (err) {
      this.#opts.logger.error('policy reload refused; the running policy stays', {
        file: this.#opts.file,
        error: (err as Error).message,
      });
      return false;
    }
    if (next.hash === this.#current.hash) return false;
    const previous = this.#current.hash;
    this.#current = next;
    this.#opts.logger.info('policy reloaded', { hash: next.hash, previous });
    await this.#opts.onChange(next, previous);
    return true;
  }
}
