/**
 * `npm run bench:llm`: streamed chat completions from a local OpenAI-compatible upstream, read
 * directly, through Airlock (audit on: every call durably recorded before it is forwarded),
 * through Airlock with masking rules on the stream (hold-back window), and through
 * @portkey-ai/gateway (an open-source LLM gateway) pointed at the same upstream, interleaved
 * round by round in one run. Prints the median added latency to the first token and the
 * chunks per second of each, with ratios.
 *
 * Env: BENCH_ROUNDS (5), BENCH_REQUESTS (20 per target per round), BENCH_CHUNKS (200 per answer),
 * BENCH_PACE_MS (0: the upstream sends as fast as it can; e.g. 2 paces it like a real model, which
 * shows what the masking hold-back window adds to the first token).
 * Loopback only; every process it starts is stopped at the end (and killed on exit).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './lib/net.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 20);
const CHUNKS = Number(process.env.BENCH_CHUNKS ?? 200);
const PACE_MS = Number(process.env.BENCH_PACE_MS ?? 0);
const ROOT = new URL('..', import.meta.url).pathname;
const NODE = process.execPath;
const DEADLINE = Date.now() + 8 * 60_000;

const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

interface Target {
  readonly name: string;
  readonly port: number;
  readonly path: string;
  readonly headers: Record<string, string>;
}

interface Sample {
  /** ms from sending the request to the first content chunk. */
  readonly ttft: number;
  /** content chunks per second over the whole request. */
  readonly chunksPerSec: number;
  readonly chunks: number;
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function start(args: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn(NODE, args, {
    cwd: ROOT,
    env: { ...process.env, ...env, NODE_NO_WARNINGS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  return child;
}

/** Resolves with the first capture of `re` in the child's output. */
function waitFor(child: ChildProcess, re: RegExp, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(
      () => reject(new Error(`${what} did not start: ${seen.slice(-2000)}`)),
      30_000,
    );
    const on = (d: Buffer) => {
      seen += d.toString();
      const m = re.exec(seen);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] ?? m[0]);
      }
    };
    child.stdout?.on('data', on);
    child.stderr?.on('data', on);
    child.once('exit', (code) =>
      reject(new Error(`${what} exited (${code}): ${seen.slice(-2000)}`)),
    );
  });
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const r = request({ host: '127.0.0.1', port, path: '/', method: 'GET' }, (res) => {
        res.resume();
        resolve(true);
      });
      r.on('error', () => resolve(false));
      r.end();
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on ${port}`);
}

/** One streamed chat completion, timed at the first and last content chunk. */
function once_(t: Target): Promise<Sample> {
  const body = JSON.stringify({
    model: 'gpt-4o-mini',
    stream: true,
    messages: [{ role: 'user', content: 'Stream the numbers please.' }],
  });
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let first = 0;
    let last = 0;
    let chunks = 0;
    let buf = '';
    const r = request(
      {
        host: '127.0.0.1',
        port: t.port,
        path: t.path,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          ...t.headers,
        },
      },
      (res) => {
        if (res.statusCode !== 200) {
          let text = '';
          res.on('data', (d) => {
            text += d;
          });
          res.on('end', () =>
            reject(new Error(`${t.name}: ${res.statusCode} ${text.slice(0, 300)}`)),
          );
          return;
        }
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          buf += d;
          let i = buf.indexOf('\n\n');
          while (i >= 0) {
            const ev = buf.slice(0, i);
            buf = buf.slice(i + 2);
            if (ev.includes('"content":"tok')) {
              const now = performance.now();
              if (chunks === 0) first = now;
              last = now;
              chunks++;
            }
            i = buf.indexOf('\n\n');
          }
        });
        res.on('end', () => {
          const span = (last - t0) / 1000;
          resolve({ ttft: first - t0, chunksPerSec: span > 0 ? chunks / span : 0, chunks });
        });
      },
    );
    r.on('error', reject);
    r.end(body);
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-bench-llm-'));
  try {
    const upstream = start(['bench/llm-upstream-server.ts'], {
      BENCH_CHUNKS: String(CHUNKS),
      BENCH_PACE_MS: String(PACE_MS),
    });
    const upPort = Number(await waitFor(upstream, /^(\d+)$/m, 'upstream'));
    const config = join(dir, 'airlock.yaml');
    writeFileSync(
      config,
      `listen: { http: 127.0.0.1:0 }
data_dir: ${join(dir, 'data')}
log: { level: info }
masking:
  rules:
    - { name: secrets, connections: [openai-masked], types: [aws_access_key, github_token, private_key, generic_secret, email], style: full }
connections:
  - { name: openai, type: llm, url: 'http://127.0.0.1:${upPort}/v1', api_key: sk-bench }
  - { name: openai-masked, type: llm, url: 'http://127.0.0.1:${upPort}/v1', api_key: sk-bench }
`,
    );
    const cli = (args: string[]) => start(['src/cli/main.ts', ...args, '--config', config]);
    const minted = cli([
      'token',
      'create',
      '--owner',
      'bench@example.com',
      '--name',
      'bench',
      '--purpose',
      'bench:llm',
    ]);
    const token = await waitFor(minted, /(alk_[A-Za-z0-9_-]+)/, 'token create');
    await once(minted, 'exit');
    const gateway = cli(['serve']);
    const gwPort = Number(
      await waitFor(gateway, /"msg":"http listener ready"[^\n]*"port":(\d+)/, 'airlock'),
    );
    const pkPort = await freePort();
    start([
      '--import',
      './bench/portkey-node24-shim.mjs',
      'node_modules/@portkey-ai/gateway/build/start-server.js',
      `--port=${pkPort}`,
      '--headless',
    ]);
    await waitForPort(pkPort);
    const auth = { authorization: `Bearer ${token}` };
    const targets: Target[] = [
      { name: 'direct', port: upPort, path: '/v1/chat/completions', headers: {} },
      { name: 'airlock', port: gwPort, path: '/c/openai/chat/completions', headers: auth },
      {
        name: 'airlock+masking',
        port: gwPort,
        path: '/c/openai-masked/chat/completions',
        headers: auth,
      },
      {
        name: 'portkey',
        port: pkPort,
        path: '/v1/chat/completions',
        headers: {
          authorization: 'Bearer sk-bench',
          'x-portkey-provider': 'openai',
          'x-portkey-custom-host': `http://127.0.0.1:${upPort}/v1`,
        },
      },
    ];
    for (const t of targets) for (let i = 0; i < 3; i++) await once_(t); // warm up
    const samples = new Map<string, Sample[]>(targets.map((t) => [t.name, []]));
    for (let round = 1; round <= ROUNDS && Date.now() < DEADLINE; round++) {
      for (const t of targets) {
        for (let i = 0; i < REQUESTS; i++) samples.get(t.name)?.push(await once_(t));
      }
      log(`round ${round}/${ROUNDS} done`);
    }
    report(targets, samples);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    rmSync(dir, { recursive: true, force: true });
  }
}

function report(targets: readonly Target[], samples: Map<string, Sample[]>): void {
  const stats = targets.map((t) => {
    const s = samples.get(t.name) ?? [];
    return {
      name: t.name,
      ttft: median(s.map((x) => x.ttft)),
      cps: median(s.map((x) => x.chunksPerSec)),
      chunks: median(s.map((x) => x.chunks)),
      n: s.length,
    };
  });
  const direct = stats[0] as (typeof stats)[number];
  const portkey = stats.find((s) => s.name === 'portkey') as (typeof stats)[number];
  const lines = [
    `streamed chat completions, ${CHUNKS} chunks each${PACE_MS > 0 ? `, ${PACE_MS} ms apart` : ''}, medians of ${direct.n} requests per target`,
    '',
    '| target | first token ms | added vs direct ms | chunks/s | chunks/s vs direct | chunks/s vs portkey |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...stats.map(
      (s) =>
        `| ${s.name} | ${s.ttft.toFixed(2)} | ${(s.ttft - direct.ttft).toFixed(2)} | ${Math.round(s.cps)} | ${(s.cps / direct.cps).toFixed(2)} | ${(s.cps / portkey.cps).toFixed(2)} |`,
    ),
    '',
    `first-token latency added, airlock vs portkey: ${((stats[1]?.ttft ?? 0) - direct.ttft).toFixed(2)} ms vs ${(portkey.ttft - direct.ttft).toFixed(2)} ms`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
process.exit(0);
