/**
 * Loads airlock.yaml: YAML → `${env:NAME}` / `${file:PATH}` substitution → schema validation →
 * cross-field checks. Every problem names its key; the CLI prints them and exits non-zero.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { GatewayError } from '../errors.ts';
import { type AirlockConfig, configSchema } from './schema.ts';

export class ConfigError extends GatewayError {
  readonly problems: readonly string[];

  constructor(source: string, problems: readonly string[]) {
    super('GW_CONFIG_INVALID', `invalid config ${source}:\n  ${problems.join('\n  ')}`);
    this.problems = problems;
  }
}

/** Resolves the config path from `--config`, then `AIRLOCK_CONFIG`, then `./airlock.yaml`. */
export function configPath(flag: string | undefined, env = process.env): string {
  return resolve(flag ?? env.AIRLOCK_CONFIG ?? 'airlock.yaml');
}

/**
 * @example
 * const cfg = loadConfig('/etc/airlock/airlock.yaml');
 */
export function loadConfig(path: string, env = process.env): AirlockConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [
      `cannot read file: ${(err as NodeJS.ErrnoException).code ?? err}`,
    ]);
  }
  const cfg = parseConfig(text, path, env);
  return { ...cfg, data_dir: resolve(dirname(path), cfg.data_dir) };
}

/** Parses and validates config text; `source` is only used in messages. */
export function parseConfig(text: string, source: string, env = process.env): AirlockConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text, { strict: true, maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError(source, [`YAML: ${(err as Error).message.split('\n')[0]}`]);
  }
  const problems: string[] = [];
  const substituted = substitute(raw ?? {}, '', env, problems);
  if (problems.length > 0) throw new ConfigError(source, problems);
  const result = configSchema.safeParse(substituted);
  if (!result.success) throw new ConfigError(source, formatIssues(result.error.issues));
  crossChecks(result.data, problems);
  if (problems.length > 0) throw new ConfigError(source, problems);
  return result.data;
}

const REF = /\$\{(env|file):([^}]+)\}/g;

function substitute(v: unknown, path: string, env: NodeJS.ProcessEnv, problems: string[]): unknown {
  if (typeof v === 'string') return substituteString(v, path, env, problems);
  if (Array.isArray(v)) return v.map((x, i) => substitute(x, `${path}[${i}]`, env, problems));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      out[k] = substitute(x, path ? `${path}.${k}` : k, env, problems);
    }
    return out;
  }
  return v;
}

function substituteString(
  s: string,
  path: string,
  env: NodeJS.ProcessEnv,
  problems: string[],
): string {
  return s.replace(REF, (_m, kind: string, ref: string) => {
    if (kind === 'env') {
      const value = env[ref];
      if (value === undefined) problems.push(`${path}: environment variable ${ref} is not set`);
      return value ?? '';
    }
    try {
      return readFileSync(ref, 'utf8').trimEnd();
    } catch {
      problems.push(`${path}: cannot read secret file ${ref}`);
      return '';
    }
  });
}

function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.slice(0, 20).map((i) => `${formatPath(i.path)}: ${i.message}`);
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || '(root)';
}

function crossChecks(cfg: AirlockConfig, problems: string[]): void {
  const seen = new Set<string>();
  cfg.connections.forEach((c, i) => {
    if (seen.has(c.name)) problems.push(`connections[${i}].name: duplicate connection "${c.name}"`);
    seen.add(c.name);
  });
  if (Boolean(cfg.tls.cert_file) !== Boolean(cfg.tls.key_file)) {
    problems.push('tls: cert_file and key_file must be given together');
  }
}
