import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GatewayError } from '../../../errors.ts';
import { BackendParser, decodeBackend } from './backend-parser.ts';
import { decodeSASLInitialResponse, FrontendParser } from './frontend-parser.ts';
import { BACKEND, type BackendMessage, type FrontendMessage, PROTOCOL_3_0 } from './messages.ts';
import { utf8 } from './reader.ts';
import * as enc from './serializer.ts';

const te = new TextEncoder();
const b = (s: string): Uint8Array => te.encode(s);

const FRONTEND_FIXTURES: FrontendMessage[] = [
  { type: 'Query', sql: 'SELECT 1; SELECT ’ünïcode’' },
  { type: 'Parse', name: 's1', sql: 'SELECT $1::int, $2', paramTypes: [23, 0] },
  {
    type: 'Bind',
    portal: 'p1',
    statement: 's1',
    paramFormats: [0, 1],
    params: [b('42'), null],
    resultFormats: [1],
  },
  { type: 'Bind', portal: '', statement: '', paramFormats: [], params: [], resultFormats: [] },
  { type: 'Describe', target: 'S', name: 's1' },
  { type: 'Describe', target: 'P', name: '' },
  { type: 'Execute', portal: 'p1', maxRows: 100 },
  { type: 'Close', target: 'P', name: 'p1' },
  { type: 'Flush' },
  { type: 'Sync' },
  { type: 'CopyData', data: b('1\tAda\n') },
  { type: 'CopyDone' },
  { type: 'CopyFail', message: 'client gave up' },
  { type: 'PasswordMessage', payload: enc.encodePassword('secret').subarray(5) },
  { type: 'FunctionCall', payload: new Uint8Array([0, 0, 0, 1, 0, 0]) },
  { type: 'Terminate' },
];

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function normalise(v: unknown): unknown {
  return JSON.parse(
    JSON.stringify(v, (_k, x) => (x instanceof Uint8Array ? { bytes: [...x] } : x)),
  );
}

function parseFrontendInChunks(stream: Uint8Array, cuts: number[]): FrontendMessage[] {
  const p = new FrontendParser({ maxFrame: 1 << 20 });
  p.expectTyped();
  const out: FrontendMessage[] = [];
  let prev = 0;
  for (const cut of [...cuts, stream.length]) {
    for (const d of p.push(stream.subarray(prev, cut))) out.push(d.message as FrontendMessage);
    prev = cut;
  }
  assert.equal(p.buffered, 0);
  return out;
}

describe('frontend codec', () => {
  const stream = concat(FRONTEND_FIXTURES.map(enc.encodeFrontend));

  it('round-trips every message type whole', () => {
    assert.deepEqual(normalise(parseFrontendInChunks(stream, [])), normalise(FRONTEND_FIXTURES));
  });

  it('decodes the same messages with the stream split at every byte offset', () => {
    const want = normalise(FRONTEND_FIXTURES);
    for (let cut = 1; cut < stream.length; cut++) {
      assert.deepEqual(normalise(parseFrontendInChunks(stream, [cut])), want, `cut at ${cut}`);
    }
  });

  it('decodes one byte at a time', () => {
    const cuts = Array.from({ length: stream.length - 1 }, (_, i) => i + 1);
    assert.deepEqual(normalise(parseFrontendInChunks(stream, cuts)), normalise(FRONTEND_FIXTURES));
  });

  it('keeps the raw bytes of each message for forwarding', () => {
    const p = new FrontendParser({ maxFrame: 1 << 20 });
    p.expectTyped();
    const raws = p.push(stream).map((d) => d.raw);
    assert.deepEqual(concat(raws), stream);
  });

  it('decodes startup-phase messages, one at a time', () => {
    const startup = enc.encodeStartup({
      type: 'StartupMessage',
      protocolVersion: PROTOCOL_3_0,
      parameters: { user: 'ada', database: 'clinic', application_name: 'psql' },
    });
    const ssl = enc.encodeStartup({ type: 'SSLRequest' });
    const p = new FrontendParser({ maxFrame: 1 << 20 });
    const first = p.push(concat([ssl, startup]));
    assert.deepEqual(
      first.map((d) => d.message.type),
      ['SSLRequest'],
    );
    const second = p.push(new Uint8Array(0));
    assert.equal(second[0]?.message.type, 'StartupMessage');
    const m = second[0]?.message;
    assert.ok(m?.type === 'StartupMessage');
    assert.equal(m.parameters.database, 'clinic');
    const cancel = enc.encodeStartup({
      type: 'CancelRequest',
      processId: 7,
      secretKey: new Uint8Array([1, 2, 3, 4]),
    });
    const c = new FrontendParser({ maxFrame: 64 }).push(cancel)[0]?.message;
    assert.deepEqual(normalise(c), {
      type: 'CancelRequest',
      processId: 7,
      secretKey: { bytes: [1, 2, 3, 4] },
    });
  });

  it('decodes SASLInitialResponse payloads', () => {
    const m = enc.encodeSASLInitialResponse('SCRAM-SHA-256', b('n,,n=,r=abc'));
    const r = decodeSASLInitialResponse(m.subarray(5));
    assert.equal(r.mechanism, 'SCRAM-SHA-256');
    assert.equal(new TextDecoder().decode(r.data ?? new Uint8Array()), 'n,,n=,r=abc');
  });
});

function expectGatewayError(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => e instanceof GatewayError && e.code === code);
}

describe('frontend codec rejects malformed input', () => {
  const typed = (): FrontendParser => {
    const p = new FrontendParser({ maxFrame: 1024 });
    p.expectTyped();
    return p;
  };

  it('rejects an oversized frame before buffering it', () => {
    const p = typed();
    expectGatewayError(
      () => p.push(new Uint8Array([0x51, 0x7f, 0, 0, 0])),
      'GW_PROTOCOL_FRAME_TOO_LARGE',
    );
  });

  it('rejects a length below the minimum', () => {
    expectGatewayError(
      () => typed().push(new Uint8Array([0x51, 0, 0, 0, 2])),
      'GW_PROTOCOL_MALFORMED',
    );
  });

  it('rejects unknown type bytes', () => {
    expectGatewayError(
      () => typed().push(new Uint8Array([0x01, 0, 0, 0, 4])),
      'GW_PROTOCOL_MALFORMED',
    );
  });

  it('rejects a Query without its terminator', () => {
    expectGatewayError(
      () => typed().push(new Uint8Array([0x51, 0, 0, 0, 6, 0x41, 0x42])),
      'GW_PROTOCOL_MALFORMED',
    );
  });

  it('rejects a Bind whose parameter overruns the message', () => {
    const bind = enc.encodeFrontend({
      type: 'Bind',
      portal: '',
      statement: '',
      paramFormats: [],
      params: [b('abcd')],
      resultFormats: [],
    });
    const bad = Uint8Array.from(bind);
    bad[bind.length - 10] = 0x7f; // corrupt the parameter length
    expectGatewayError(() => typed().push(bad), 'GW_PROTOCOL_MALFORMED');
  });

  it('rejects trailing bytes', () => {
    expectGatewayError(
      () => typed().push(new Uint8Array([0x53, 0, 0, 0, 5, 0])),
      'GW_PROTOCOL_MALFORMED',
    );
  });

  it('rejects an unsupported protocol version', () => {
    const v2 = enc.encodeStartup({
      type: 'StartupMessage',
      protocolVersion: 2 << 16,
      parameters: {},
    });
    expectGatewayError(
      () => new FrontendParser({ maxFrame: 1024 }).push(v2),
      'GW_PROTOCOL_UNSUPPORTED',
    );
  });
});

const BACKEND_FIXTURES: BackendMessage[] = [
  { type: 'ParameterStatus', name: 'server_version', value: '15.18' },
  { type: 'BackendKeyData', processId: 1234, secretKey: new Uint8Array([9, 8, 7, 6]) },
  { type: 'ReadyForQuery', status: 'I' },
  {
    type: 'RowDescription',
    fields: [
      {
        name: 'id',
        tableOid: 16384,
        columnAttr: 1,
        typeOid: 23,
        typeSize: 4,
        typeModifier: -1,
        format: 0,
      },
      {
        name: 'name',
        tableOid: 16384,
        columnAttr: 2,
        typeOid: 25,
        typeSize: -1,
        typeModifier: -1,
        format: 0,
      },
    ],
  },
  { type: 'DataRow', values: [b('1'), null] },
  { type: 'CommandComplete', tag: 'SELECT 1' },
  { type: 'ErrorResponse', fields: { S: 'ERROR', C: '42P01', M: 'relation "x" does not exist' } },
  { type: 'NoticeResponse', fields: { S: 'NOTICE', C: '00000', M: 'hello' } },
  { type: 'ReadyForQuery', status: 'T' },
];

function encodeBackendFixture(m: BackendMessage): Uint8Array {
  switch (m.type) {
    case 'ParameterStatus':
      return enc.encodeParameterStatus(m.name, m.value);
    case 'BackendKeyData':
      return enc.encodeBackendKeyData(m.processId, m.secretKey);
    case 'ReadyForQuery':
      return enc.encodeReadyForQuery(m.status);
    case 'RowDescription':
      return enc.encodeRowDescription(m.fields);
    case 'DataRow':
      return enc.encodeDataRow(m.values);
    case 'CommandComplete':
      return enc.encodeCommandComplete(m.tag);
    case 'ErrorResponse':
      return enc.encodeErrorResponse(m.fields);
    case 'NoticeResponse':
      return enc.encodeNoticeResponse(m.fields);
    default:
      throw new Error(`no fixture encoder for ${m.type}`);
  }
}

describe('backend codec', () => {
  const stream = concat(BACKEND_FIXTURES.map(encodeBackendFixture));

  function parse(cuts: number[]): BackendMessage[] {
    const p = new BackendParser({ maxFrame: 1 << 20 });
    const out: BackendMessage[] = [];
    let prev = 0;
    for (const cut of [...cuts, stream.length]) {
      const batch = p.push(stream.subarray(prev, cut));
      for (const f of batch.frames) out.push(decodeBackend(batch.buf, f));
      prev = cut;
    }
    return out;
  }

  it('decodes every message split at every byte offset', () => {
    const want = normalise(BACKEND_FIXTURES);
    for (let cut = 0; cut <= stream.length; cut++) {
      assert.deepEqual(normalise(parse([cut])), want, `cut at ${cut}`);
    }
  });

  it('reports complete bytes so the relay can forward whole frames only', () => {
    const p = new BackendParser({ maxFrame: 1 << 20 });
    const first = p.push(stream.subarray(0, 10));
    const rest = p.push(stream.subarray(10));
    const forwarded = concat([
      first.buf.subarray(0, first.complete),
      rest.buf.subarray(0, rest.complete),
    ]);
    assert.deepEqual(forwarded, stream);
  });

  it('passes unknown message types through as Other', () => {
    const raw = enc.encodeBackendRaw(BACKEND.ParseComplete, new Uint8Array(0));
    const batch = new BackendParser({ maxFrame: 64 }).push(raw);
    const f = batch.frames[0];
    assert.ok(f);
    assert.equal(decodeBackend(batch.buf, f).type, 'Other');
  });
});

describe('utf8', () => {
  it('decodes as TextDecoder does, short ASCII or not', () => {
    const decoder = new TextDecoder();
    const samples = [
      '',
      'SELECT 1',
      'INSERT 0 1',
      'é',
      'a\u{1F600}b',
      'x'.repeat(40),
      'ü'.repeat(20),
    ];
    const bytes = [
      ...samples.map((s) => new TextEncoder().encode(s)),
      Uint8Array.of(0x61, 0xff, 0x62),
    ];
    for (const b of bytes) {
      const padded = new Uint8Array([7, ...b, 9]);
      assert.equal(utf8(padded, 1, b.length + 1), decoder.decode(b));
    }
  });
});
