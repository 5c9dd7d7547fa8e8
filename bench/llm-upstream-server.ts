// The fake OpenAI-compatible upstream as its own process for bench/llm.ts: prints its port, then
// answers every chat completion with BENCH_CHUNKS streamed chunks (BENCH_PACE_MS apart) until
// killed.
import { startLlmUpstream } from '../test/helpers/llm-upstream.ts';

const chunks = Number(process.env.BENCH_CHUNKS ?? 200);
const up = await startLlmUpstream();
const words = Array.from({ length: chunks }, (_, i) => `tok${i % 10} `);
up.reply = { chunks: words, delayMs: Number(process.env.BENCH_PACE_MS ?? 0) };
// Keep no history: the bench sends thousands of requests.
setInterval(() => up.received.splice(0), 1000).unref();
process.stdout.write(`${up.port}\n`);
process.on('SIGTERM', () => void up.close().then(() => process.exit(0)));
