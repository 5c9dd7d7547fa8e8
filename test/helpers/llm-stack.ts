/**
 * A gateway with an HTTP listener in front of the fake LLM upstream (llm-upstream.ts), with a
 * fresh data folder and an agent token; no PostgreSQL.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/loader.ts';
import { type Gateway, startGateway } from '../../src/server/gateway.ts';
import { createLogger, silentLogger } from '../../src/telemetry/logger.ts';
import { type LlmUpstream, startLlmUpstream } from './llm-upstream.ts';

export interface LlmStack extends AsyncDisposable {
  readonly gw: Gateway;
  readonly upstream: LlmUpstream;
  readonly dataDir: string;
  /** `http://127.0.0.1:<port>` of the gateway's HTTP listener. */
  readonly base: string;
  /** An agent token owned by olivia.owner@example.com. */
  readonly token: string;
  close(): Promise<void>;
}

export interface LlmStackOptions {
  /** Extra top-level YAML (masking, budgets, ...), and connections after the default `openai`. */
  readonly yaml?: string;
  readonly connections?: (upstreamUrl: string) => string;
  readonly policy?: string;
}

/** The API key the gateway holds for the fake upstream (tests check it never leaks). */
export const UPSTREAM_KEY = 'sk-upstream-key-0123456789abcdefghij';

/**
 * @example
 * await using s = await startLlmStack();
 * const client = new OpenAI({ baseURL: `${s.base}/c/openai`, apiKey: s.token });
 */
export async function startLlmStack(opts: LlmStackOptions = {}): Promise<LlmStack> {
  const upstream = await startLlmUpstream();
  const dataDir = mkdtempSync(join(tmpdir(), 'airlock-llm-'));
  let policyLine = '';
  if (opts.policy) {
    const file = join(dataDir, 'policy.yaml');
    writeFileSync(file, opts.policy);
    policyLine = `policy: { file: ${file}, reload: false }\n`;
  }
  const yaml = `
listen:
  http: 127.0.0.1:0
  api: 127.0.0.1:0
audit:
  sync: normal
${policyLine}${opts.yaml ?? ''}
connections:
  - name: openai
    type: llm
    dialect: openai
    url: ${upstream.url}/v1
    api_key: \${env:UPSTREAM_KEY}
    default: true
${opts.connections?.(upstream.url) ?? ''}`;
  const cfg = parseConfig(yaml, 'test', { ...process.env, UPSTREAM_KEY });
  const logger = process.env.GW_DEBUG ? createLogger({ level: 'debug' }) : silentLogger;
  const gw = await startGateway({ ...cfg, data_dir: dataDir }, { logger });
  const { token } = gw.tokens.create({
    owner: 'olivia.owner@example.com',
    name: 'ci-agent',
    groups: ['engineering'],
    purpose: 'llm tests',
    ttlMs: 3_600_000,
  });
  const close = async () => {
    await gw.close();
    await upstream.close();
    rmSync(dataDir, { recursive: true, force: true });
  };
  return {
    gw,
    upstream,
    dataDir,
    base: `http://127.0.0.1:${gw.addresses.http?.port}`,
    token,
    close,
    [Symbol.asyncDispose]: close,
  };
}
