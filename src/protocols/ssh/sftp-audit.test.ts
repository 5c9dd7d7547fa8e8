import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { GatewayError } from '../../errors.ts';
import { analyzeShell } from '../../shell/analyze.ts';
import { SftpFramer, SSH_FXF, SSH_FXP } from './codec/sftp.ts';
import { ScpAudit, scpMode } from './scp-audit.ts';
import { type FileEvent, SftpAudit } from './sftp-audit.ts';

/** One SFTP packet: uint32 length, byte type, then the fields. */
function packet(type: number, ...fields: (number | bigint | string | Buffer)[]): Buffer {
  const parts = fields.map((f) => {
    if (typeof f === 'number') {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(f);
      return b;
    }
    if (typeof f === 'bigint') {
      const b = Buffer.alloc(8);
      b.writeBigUInt64BE(f);
      return b;
    }
    const data = typeof f === 'string' ? Buffer.from(f) : f;
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    return Buffer.concat([len, data]);
  });
  const body = Buffer.concat([Buffer.from([type]), ...parts]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

const HANDLE = Buffer.from([0, 0, 0, 1]);
const ATTRS = 0; // empty attrs flags

function upload(data: Buffer, chunk: number): { client: Buffer[]; server: Buffer[] } {
  const client = [
    packet(SSH_FXP.INIT, 3),
    packet(SSH_FXP.OPEN, 1, '/srv/up.bin', SSH_FXF.WRITE | SSH_FXF.CREAT | SSH_FXF.TRUNC, ATTRS),
  ];
  const server = [packet(SSH_FXP.VERSION, 3), packet(SSH_FXP.HANDLE, 1, HANDLE)];
  let id = 2;
  for (let off = 0; off < data.length; off += chunk) {
    client.push(packet(SSH_FXP.WRITE, id, HANDLE, BigInt(off), data.subarray(off, off + chunk)));
    server.push(packet(SSH_FXP.STATUS, id, 0, '', ''));
    id += 1;
  }
  client.push(packet(SSH_FXP.CLOSE, id, HANDLE));
  server.push(packet(SSH_FXP.STATUS, id, 0, '', ''));
  return { client, server };
}

describe('SftpAudit', () => {
  test('an upload is one event with path, bytes and SHA-256, however the bytes are split', () => {
    const data = randomBytes(100_000);
    const { client, server } = upload(data, 32_768);
    const stream = Buffer.concat(client);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), (size) => {
        const events: FileEvent[] = [];
        const audit = new SftpAudit((e) => events.push(e));
        const opening = client[0]!.length + client[1]!.length;
        audit.fromClient(stream.subarray(0, opening));
        audit.fromServer(Buffer.concat(server.slice(0, 2)));
        for (let i = opening; i < stream.length; i += size)
          audit.fromClient(stream.subarray(i, i + size));
        audit.fromServer(Buffer.concat(server.slice(2)));
        assert.deepEqual(events, [
          {
            type: 'file.transferred',
            data: {
              via: 'sftp',
              path: '/srv/up.bin',
              direction: 'upload',
              bytes: data.length,
              sha256: createHash('sha256').update(data).digest('hex'),
              complete: true,
            },
          },
        ]);
      }),
      { numRuns: 30 },
    );
  });

  test('downloads count DATA replies; out-of-order reads keep the size but drop the hash', () => {
    const events: FileEvent[] = [];
    const a = new SftpAudit((e) => events.push(e));
    a.fromClient(packet(SSH_FXP.OPEN, 1, 'notes.txt', SSH_FXF.READ, ATTRS));
    a.fromServer(packet(SSH_FXP.HANDLE, 1, HANDLE));
    a.fromClient(
      Buffer.concat([
        packet(SSH_FXP.READ, 2, HANDLE, 4n, 4),
        packet(SSH_FXP.READ, 3, HANDLE, 0n, 4),
      ]),
    );
    a.fromServer(Buffer.concat([packet(SSH_FXP.DATA, 2, 'EFGH'), packet(SSH_FXP.DATA, 3, 'ABCD')]));
    a.fromClient(packet(SSH_FXP.CLOSE, 4, HANDLE));
    assert.equal(events.length, 1);
    assert.equal(events[0]?.type, 'file.transferred');
    assert.deepEqual(events[0]?.data, {
      via: 'sftp',
      path: 'notes.txt',
      direction: 'download',
      bytes: 8,
      complete: true,
    });
  });

  test('changes are reported with their outcome; a stat-like open reports nothing', () => {
    const events: FileEvent[] = [];
    const a = new SftpAudit((e) => events.push(e));
    a.fromClient(packet(SSH_FXP.REMOVE, 1, '/a'));
    a.fromClient(packet(SSH_FXP.RENAME, 2, '/b', '/c'));
    a.fromClient(packet(SSH_FXP.EXTENDED, 3, 'posix-rename@openssh.com', '/c', '/d'));
    a.fromClient(packet(SSH_FXP.OPEN, 4, '/e', SSH_FXF.READ, ATTRS));
    a.fromServer(packet(SSH_FXP.STATUS, 1, 0, '', ''));
    a.fromServer(packet(SSH_FXP.STATUS, 2, 2, 'no such file', ''));
    a.fromServer(packet(SSH_FXP.STATUS, 3, 0, '', ''));
    a.fromServer(packet(SSH_FXP.HANDLE, 4, HANDLE));
    a.fromClient(packet(SSH_FXP.CLOSE, 5, HANDLE));
    assert.deepEqual(
      events.map((e) => e.data),
      [
        { via: 'sftp', op: 'remove', path: '/a', ok: true },
        { via: 'sftp', op: 'rename', path: '/b', target: '/c', ok: false },
        { via: 'sftp', op: 'rename', path: '/c', target: '/d', ok: true },
      ],
    );
  });

  test('a channel that ends mid-file reports it incomplete', () => {
    const events: FileEvent[] = [];
    const a = new SftpAudit((e) => events.push(e));
    const { client, server } = upload(Buffer.alloc(10, 1), 4);
    a.fromClient(Buffer.concat(client.slice(0, 2)));
    a.fromServer(Buffer.concat(server.slice(0, 2)));
    a.fromClient(client[2]!);
    a.end();
    const data = events[0]?.data as { complete: boolean; bytes: number } | undefined;
    assert.equal(data?.complete, false);
    assert.equal(data?.bytes, 4);
  });

  test('oversized or truncated packets are refused, never crash', () => {
    const big = Buffer.alloc(4);
    big.writeUInt32BE(0x7fffffff);
    assert.throws(() => new SftpAudit(() => {}).fromClient(big), GatewayError);
    const truncated = packet(SSH_FXP.OPEN, 1).subarray(0, 9); // id only, no path
    truncated.writeUInt32BE(5, 0);
    assert.throws(() => new SftpAudit(() => {}).fromClient(truncated), /truncated SFTP packet/);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          new SftpAudit(() => {}).fromClient(bytes);
          new SftpAudit(() => {}).fromServer(bytes);
        } catch (err) {
          assert.ok(err instanceof GatewayError);
        }
      }),
      { numRuns: 500 },
    );
    assert.equal(new SftpFramer().push(Buffer.alloc(3)).length, 0);
  });
});

describe('ScpAudit', () => {
  test('finds the direction and path of the remote scp command', () => {
    const mode = (s: string) => {
      const a = analyzeShell(s);
      return a.ok ? scpMode(a.invocations) : undefined;
    };
    assert.deepEqual(mode('scp -t -- /tmp/'), { direction: 'upload', path: '/tmp/' });
    assert.deepEqual(mode("scp -r -p -f '/srv/data dir'"), {
      direction: 'download',
      path: '/srv/data dir',
    });
    assert.equal(mode('scp a b'), undefined);
    assert.equal(mode('scp -t /x; rm -rf /'), undefined);
  });

  test('records each file of a recursive copy with its size and hash', () => {
    const events: FileEvent[] = [];
    const a = new ScpAudit({ direction: 'upload', path: '/dst' }, (e) => events.push(e));
    const body = Buffer.from('hello world');
    const stream = Buffer.concat([
      Buffer.from('D0755 0 dir\nT1 0 1 0\n'),
      Buffer.from(`C0644 ${body.length} a.txt\n`),
      body,
      Buffer.from([0]),
      Buffer.from('C0600 0 empty\n'),
      Buffer.from([0]),
      Buffer.from('E\n'),
    ]);
    for (const byte of stream) a.push(Buffer.from([byte]));
    assert.deepEqual(
      events.map((e) => e.data),
      [
        {
          via: 'scp',
          path: '/dst',
          name: 'dir/a.txt',
          direction: 'upload',
          bytes: 11,
          sha256: createHash('sha256').update(body).digest('hex'),
          complete: true,
        },
        {
          via: 'scp',
          path: '/dst',
          name: 'dir/empty',
          direction: 'upload',
          bytes: 0,
          sha256: createHash('sha256').digest('hex'),
          complete: true,
        },
      ],
    );
  });

  test('malformed records and path names are refused', () => {
    const a = () => new ScpAudit({ direction: 'upload', path: '/d' }, () => {});
    assert.throws(() => a().push(Buffer.from('C0644 x name\n')), /malformed/);
    assert.throws(() => a().push(Buffer.from('C0644 1 ../../etc/passwd\n')), /path/);
    assert.throws(() => a().push(Buffer.from('Zwhat\n')), /unknown/);
    assert.throws(() => a().push(Buffer.alloc(5000, 0x41)), /too long/);
  });
});
