import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { GatewayError } from '../../errors.ts';
import { encodeSse, type SseEvent, SseParser } from './sse.ts';

const enc = (s: string) => new TextEncoder().encode(s);

function parseAll(chunks: Uint8Array[]): SseEvent[] {
  const p = new SseParser();
  const out: SseEvent[] = [];
  for (const c of chunks) out.push(...p.push(c));
  out.push(...p.end());
  return out;
}

const STREAM =
  ': keep-alive\n\n' +
  'event: message_start\ndata: {"a":1}\n\n' +
  'data: line one\r\ndata: line two\r\n\r\n' +
  'id: 7\nretry: 1000\ndata:no-space\rdata:  two-spaces\r\r' +
  'data: {"text":"héllo 🌍"}\n\n' +
  'data: [DONE]\n\n';

const EXPECTED: SseEvent[] = [
  { data: '', comments: ['keep-alive'] },
  { event: 'message_start', data: '{"a":1}' },
  { data: 'line one\nline two' },
  { data: 'no-space\n two-spaces', id: '7', retry: 1000 },
  { data: '{"text":"héllo 🌍"}' },
  { data: '[DONE]' },
];

describe('SseParser', () => {
  it('reads events, fields, comments and every line ending (WHATWG 9.2.6)', () => {
    assert.deepEqual(parseAll([enc(STREAM)]), EXPECTED);
  });

  it('gives the same events however the bytes are split (also inside UTF-8 and CRLF)', () => {
    const bytes = enc(STREAM);
    for (let i = 1; i < bytes.length; i++) {
      assert.deepEqual(
        parseAll([bytes.subarray(0, i), bytes.subarray(i)]),
        EXPECTED,
        `split at ${i}`,
      );
    }
    fc.assert(
      fc.property(fc.array(fc.nat(bytes.length), { maxLength: 12 }), (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const chunks = [0, ...points].map((p, i) => bytes.subarray(p, points[i] ?? bytes.length));
        assert.deepEqual(parseAll(chunks), EXPECTED);
      }),
      { numRuns: 200 },
    );
  });

  it('drops an event without its blank line at the end of the stream', () => {
    assert.deepEqual(parseAll([enc('data: a\n\ndata: cut')]), [{ data: 'a' }]);
  });

  it('refuses an event larger than the cap, with a GatewayError', () => {
    const p = new SseParser({ maxEventBytes: 64 });
    assert.throws(
      () => p.push(enc(`data: ${'x'.repeat(100)}`)),
      (e: unknown) => e instanceof GatewayError && e.code === 'GW_UPSTREAM_MALFORMED',
    );
  });

  it('only ever throws GatewayErrors on junk', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (junk) => {
        try {
          parseAll([junk]);
        } catch (err) {
          assert.ok(err instanceof GatewayError);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('encodes what it parses', () => {
    for (const ev of EXPECTED.slice(1)) assert.deepEqual(parseAll([enc(encodeSse(ev))]), [ev]);
  });
});
