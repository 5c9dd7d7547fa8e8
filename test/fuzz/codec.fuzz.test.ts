/**
 * Property tests for the PostgreSQL codec: arbitrary bytes never crash the parsers (only
 * GatewayErrors), and any valid message sequence decodes the same however it is split.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { GatewayError } from '../../src/errors.ts';
import { BackendParser, decodeBackend } from '../../src/protocols/postgres/codec/backend-parser.ts';
import { FrontendParser } from '../../src/protocols/postgres/codec/frontend-parser.ts';
import type { FrontendMessage } from '../../src/protocols/postgres/codec/messages.ts';
import { encodeFrontend } from '../../src/protocols/postgres/codec/serializer.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const text = fc.string({ maxLength: 40 }).filter((s) => !s.includes('\0'));
const bytes = fc.uint8Array({ maxLength: 64 });

const message: fc.Arbitrary<FrontendMessage> = fc.oneof(
  text.map((sql) => ({ type: 'Query', sql }) as const),
  fc.record({
    type: fc.constant('Parse' as const),
    name: text,
    sql: text,
    paramTypes: fc.array(fc.nat(), { maxLength: 4 }),
  }),
  fc.record({
    type: fc.constant('Bind' as const),
    portal: text,
    statement: text,
    paramFormats: fc.array(fc.constantFrom(0, 1), { maxLength: 1 }),
    params: fc.array(fc.option(bytes, { nil: null }), { maxLength: 4 }),
    resultFormats: fc.array(fc.constantFrom(0, 1), { maxLength: 3 }),
  }),
  fc.record({ type: fc.constant('Execute' as const), portal: text, maxRows: fc.nat() }),
  fc.record({
    type: fc.constant('Describe' as const),
    target: fc.constantFrom('S' as const, 'P' as const),
    name: text,
  }),
  fc.constant({ type: 'Sync' } as const),
  bytes.map((data) => ({ type: 'CopyData', data }) as const),
);

function splitAt(stream: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...points, stream.length]) {
    out.push(stream.subarray(prev, p));
    prev = p;
  }
  return out;
}

function expectOnlyGatewayErrors(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof GatewayError, `non-gateway error: ${String(err)}`);
  }
}

describe('codec properties', () => {
  it('frontend: any message sequence decodes identically under any split', () => {
    fc.assert(
      fc.property(
        fc.array(message, { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (msgs, cuts) => {
          const stream = Buffer.concat(msgs.map(encodeFrontend));
          const p = new FrontendParser({ maxFrame: 1 << 20 });
          p.expectTyped();
          const decoded = splitAt(stream, cuts).flatMap((c) => p.push(c).map((d) => d.message));
          assert.equal(decoded.length, msgs.length);
          assert.deepEqual(
            Buffer.concat(decoded.map((m) => encodeFrontend(m as FrontendMessage))),
            stream,
          );
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('frontend: arbitrary bytes only ever raise GatewayErrors', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), fc.boolean(), (junk, typed) => {
        const p = new FrontendParser({ maxFrame: 4096 });
        if (typed) p.expectTyped();
        expectOnlyGatewayErrors(() => {
          p.push(junk);
        });
      }),
      { numRuns: RUNS * 3 },
    );
  });

  it('backend: arbitrary bytes only ever raise GatewayErrors when decoded', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (junk) => {
        const p = new BackendParser({ maxFrame: 4096 });
        expectOnlyGatewayErrors(() => {
          const batch = p.push(junk);
          for (const f of batch.frames) decodeBackend(batch.buf, f);
        });
      }),
      { numRuns: RUNS * 3 },
    );
  });
});
