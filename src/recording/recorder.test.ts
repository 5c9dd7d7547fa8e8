import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { SecretScanner } from '../masking/secret-scan.ts';
import { parseAsciicast } from './asciicast.ts';
import { Recorder, type RecorderOptions } from './recorder.ts';
import { play, RecordingAltered, RecordingTooLarge, readVerified } from './replay.ts';

const dir = mkdtempSync(join(tmpdir(), 'airlock-rec-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function options(over: Partial<RecorderOptions> = {}): RecorderOptions {
  let now = 1_700_000_000_000;
  return {
    dir,
    sessionId: 's_1',
    name: `ch-${Math.random().toString(36).slice(2)}`,
    width: 80,
    height: 24,
    term: 'xterm',
    title: 'box: interactive shell',
    input: false,
    scanner: new SecretScanner(),
    holdBack: 256,
    maxBytes: 1024 * 1024,
    clock: () => {
      now += 100;
      return now;
    },
    ...over,
  };
}

describe('Recorder', () => {
  test('writes asciicast v2 in time order, masks secrets, and hashes exactly what it wrote', async () => {
    const rec = await Recorder.open(options({ input: true }));
    rec.output(Buffer.from('$ '));
    rec.input(Buffer.from('echo ghp_A1b2C3d4E5A1b2C3d4E5A1b2C3d4E5abcdef\r'));
    rec.output(Buffer.from('echo ghp_A1b2C3d4E5A1b2C3d4E5A1b2C3d4E5abcdef\r\n'));
    rec.resize(120, 40);
    rec.output(Buffer.from([0xe2, 0x82])); // a UTF-8 character split across chunks
    rec.output(Buffer.from([0xac, 0x0a]));
    rec.marker('note');
    const s = await rec.close();
    const path = join(dir, s.file);
    const bytes = readFileSync(path);
    assert.equal(createHash('sha256').update(bytes).digest('hex'), s.sha256);
    assert.equal(bytes.length, s.bytes);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const { header, events } = parseAsciicast(bytes.toString('utf8'));
    assert.equal(header.width, 80);
    assert.equal(events.length, s.events);
    assert.deepEqual(
      events.map((e) => e.code),
      ['o', 'i', 'o', 'r', 'o', 'm'],
    );
    for (let i = 1; i < events.length; i += 1) assert.ok(events[i]!.time > events[i - 1]!.time);
    assert.equal(events[3]?.data, '120x40');
    assert.equal(events[4]?.data, '€\n');
    assert.ok(!bytes.toString().includes('ghp_'));
    assert.deepEqual(s.masked, { github_token: 2 });
  });

  test('stops recording past max_bytes and says so', async () => {
    const rec = await Recorder.open(options({ maxBytes: 2048, scanner: undefined }));
    for (let i = 0; i < 10; i += 1) rec.output(Buffer.alloc(1000, 'x'));
    const s = await rec.close();
    assert.equal(s.truncated, true);
    const { events } = parseAsciicast(readFileSync(join(dir, s.file), 'utf8'));
    assert.equal(events.filter((e) => e.code === 'o').length, 2);
    assert.match(events.at(-1)?.data ?? '', /truncated/);
  });

  test('refuses to open when the folder is not writable, or the file exists', async () => {
    const o = options();
    const rec = await Recorder.open(o);
    await rec.close();
    await assert.rejects(Recorder.open(o), /EEXIST/);
    if (process.getuid?.() !== 0) {
      const ro = mkdtempSync(join(tmpdir(), 'airlock-ro-'));
      chmodSync(ro, 0o500);
      await assert.rejects(Recorder.open(options({ dir: ro })));
    }
  });
});

describe('replay', () => {
  test('plays with timing divided by speed, idle capped; raw writes at once', async () => {
    const cast = [
      JSON.stringify({ version: 2, width: 80, height: 24, timestamp: 0 }),
      JSON.stringify([0.5, 'o', 'a']),
      JSON.stringify([0.6, 'i', 'typed']),
      JSON.stringify([10.5, 'o', 'b']),
      '',
    ].join('\n');
    const waits: number[] = [];
    let out = '';
    const r = await play(cast, {
      speed: 2,
      maxIdleMs: 2000,
      raw: false,
      write: (s) => {
        out += s;
      },
      sleep: async (ms) => {
        waits.push(ms);
      },
    });
    assert.equal(out, 'ab');
    assert.deepEqual(waits, [250, 1000]);
    assert.equal(r.events, 2);
    let raw = '';
    await play(cast, {
      speed: 1,
      raw: true,
      write: (s) => (raw += s),
      sleep: async () => assert.fail(),
    });
    assert.equal(raw, 'ab');
  });

  test('a recording must hash to what the ledger says, exist, and stay in its folder', async () => {
    writeFileSync(join(dir, 'x.cast'), 'data');
    const good = createHash('sha256').update('data').digest('hex');
    assert.equal(await readVerified(dir, 'x.cast', good), 'data');
    await assert.rejects(readVerified(dir, 'x.cast', 'f'.repeat(64)), RecordingAltered);
    await assert.rejects(readVerified(dir, 'gone.cast', good), /gone\.cast is missing/);
    for (const outside of ['../../etc/passwd', '/etc/passwd', '.', '..']) {
      await assert.rejects(readVerified(dir, outside, good), /leaves the folder/, outside);
    }
  });

  test('a recording over maxBytes is not read', async () => {
    writeFileSync(join(dir, 'big.cast'), 'x'.repeat(2048));
    const digest = createHash('sha256').update('x'.repeat(2048)).digest('hex');
    await assert.rejects(
      readVerified(dir, 'big.cast', digest, { maxBytes: 1024 }),
      RecordingTooLarge,
    );
    assert.equal((await readVerified(dir, 'big.cast', digest, { maxBytes: 2048 })).length, 2048);
  });
});
