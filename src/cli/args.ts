/**
 * Shared CLI plumbing: flag parsing, config loading, and the one way commands fail.
 */
import { parseArgs } from 'node:util';
import { configPath, loadConfig } from '../config/loader.ts';
import type { AirlockConfig } from '../config/schema.ts';

export class UsageError extends Error {}

export type Flags = Record<string, string | boolean | undefined>;

export interface ParsedArgs {
  readonly flags: Flags;
  readonly positionals: string[];
}

type Spec = Record<string, { type: 'string' | 'boolean'; short?: string }>;

/**
 * @example
 * const { flags } = parse(argv, { owner: { type: 'string' } });
 */
export function parse(argv: string[], spec: Spec): ParsedArgs {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { config: { type: 'string' }, ...spec },
      allowPositionals: true,
      strict: true,
    });
    return { flags: values as Flags, positionals };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export function str(flags: Flags, name: string): string | undefined {
  const v = flags[name];
  return typeof v === 'string' ? v : undefined;
}

export function required(flags: Flags, name: string): string {
  const v = str(flags, name);
  if (!v) throw new UsageError(`--${name} is required`);
  return v;
}

export function config(flags: Flags): AirlockConfig {
  return loadConfig(configPath(str(flags, 'config')));
}

/** `8h`, `30m`, `7d`, `90s` → milliseconds. */
export function parseDuration(s: string): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(s.trim());
  if (!m) throw new UsageError(`invalid duration "${s}" (use e.g. 30m, 8h, 7d)`);
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

/** An ISO date/time, or a relative `-2h` / `2h` meaning that long ago. */
export function parseTime(s: string, now = Date.now()): number {
  const rel = /^-?(\d+)(s|m|h|d)$/.exec(s.trim());
  if (rel) return now - parseDuration(`${rel[1]}${rel[2]}`);
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new UsageError(`invalid time "${s}" (ISO 8601, or relative like 2h)`);
  return t;
}

/** Writes to stdout (the CLI's data channel); diagnostics go to stderr. */
export function out(line: string): void {
  process.stdout.write(`${line}\n`);
}
