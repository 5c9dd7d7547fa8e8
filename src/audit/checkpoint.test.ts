import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { inspect } from 'node:util';
import fc from 'fast-check';
import {
  type Checkpoint,
  checkpointMessage,
  keyIdOf,
  loadOrCreateSigningKey,
  loadPublicKey,
  type SigningKey,
  signCheckpoint,
  verifyCheckpoint,
} from './checkpoint.ts';
import { EMPTY_ROOT } from './merkle.ts';

const root = mkdtempSync(join(tmpdir(), 'airlock-checkpoint-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = (): string => join(root, `d${++dirs}`, 'keys');

const keyA = loadOrCreateSigningKey(join(freshDir(), 'a.pem'));
const keyB = loadOrCreateSigningKey(join(freshDir(), 'b.pem'));
const pubA = loadPublicKey(keyA.publicKeyPem);
const pubB = loadPublicKey(keyB.publicKeyPem);

const FIELDS = {
  origin: 'airlock/ledger-1',
  treeSize: 42,
  rootHash: createHash('sha256').update('root').digest('hex'),
  time: '2025-06-01T12:00:00.000Z',
};

function sign(key: SigningKey = keyA): Checkpoint {
  return signCheckpoint(key, FIELDS);
}

function rejected(c: unknown, key: KeyObject = pubA): string {
  const r = verifyCheckpoint(c, key);
  if (r.ok) assert.fail(`accepted ${inspect(c)}`);
  return r.reason;
}

describe('checkpointMessage', () => {
  test('is the signed-note-style body, byte for byte', () => {
    const msg = checkpointMessage({
      origin: 'ledger-1',
      treeSize: 0,
      rootHash: EMPTY_ROOT.toString('hex'),
      time: '2025-01-01T00:00:00.000Z',
      keyId: '0123456789abcdef',
    });
    assert.equal(
      msg.toString('utf8'),
      'airlock-checkpoint/v1\nledger-1\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n' +
        '2025-01-01T00:00:00.000Z\n0123456789abcdef\n',
    );
  });

  test('refuses fields that are not in their documented form', () => {
    const good = { ...FIELDS, keyId: keyA.keyId };
    for (const bad of [
      { origin: '' },
      { origin: 'a\nb' },
      { origin: 'a\rb' },
      { origin: 'a\u0000b' },
      { origin: 'a\uD800b' },
      { origin: 7 },
      { treeSize: -1 },
      { treeSize: 1.5 },
      { treeSize: 2 ** 53 },
      { treeSize: '42' },
      { rootHash: FIELDS.rootHash.toUpperCase() },
      { rootHash: FIELDS.rootHash.slice(1) },
      { time: 'yesterday' },
      { time: '2025-06-01' },
      { time: '2025-13-01T12:00:00Z' },
      { time: '2025-06-01T12:00:00.000Z\n' },
      { keyId: 'ABCDEF0123456789' },
      { keyId: keyA.keyId.slice(1) },
    ]) {
      assert.throws(
        () => checkpointMessage({ ...good, ...bad } as typeof good),
        TypeError,
        JSON.stringify(bad),
      );
    }
    assert.doesNotThrow(() => checkpointMessage({ ...good, time: '2025-06-01T14:00:00+02:00' }));
  });
});

describe('signCheckpoint and verifyCheckpoint', () => {
  test('round-trip, also through JSON', () => {
    const cp = sign();
    assert.deepEqual(
      { ...cp, signature: undefined },
      { ...FIELDS, keyId: keyA.keyId, signature: undefined },
    );
    assert.ok(Object.isFrozen(cp));
    const r = verifyCheckpoint(JSON.parse(JSON.stringify(cp)), pubA);
    assert.ok(r.ok);
    assert.deepEqual(r.checkpoint, cp);
    assert.ok(verifyCheckpoint(cp, pubA).ok);
  });

  test('each altered field is rejected', () => {
    const cp = sign();
    const sig = Buffer.from(cp.signature, 'base64');
    sig[10]! ^= 1;
    for (const change of [
      { origin: 'airlock/ledger-2' },
      { treeSize: 43 },
      { treeSize: 41 },
      { rootHash: `${cp.rootHash.slice(0, -1)}${cp.rootHash.endsWith('0') ? '1' : '0'}` },
      { time: '2025-06-01T12:00:00.001Z' },
      { keyId: keyB.keyId },
      { keyId: '0000000000000000' },
      { signature: sig.toString('base64') },
      { signature: sign(keyB).signature },
    ]) {
      rejected({ ...cp, ...change });
    }
  });

  test('malformed checkpoints are rejected with a reason, never thrown', () => {
    const cp = sign();
    const { signature: _s, ...unsigned } = cp;
    const sigChars = cp.signature.split('');
    sigChars[85] = sigChars[85] === 'B' ? 'C' : 'B'; // the last character carries padding bits
    for (const bad of [
      null,
      undefined,
      'checkpoint',
      [cp],
      unsigned,
      { ...cp, extra: 1 },
      { ...cp, signature: '' },
      { ...cp, signature: cp.signature.replace(/=+$/, '') },
      { ...cp, signature: sigChars.join('') },
      { ...cp, signature: Buffer.alloc(63).toString('base64') },
      { ...cp, treeSize: '42' },
      {
        ...cp,
        get origin(): string {
          throw new Error('boom');
        },
      },
    ]) {
      assert.equal(typeof rejected(bad), 'string');
    }
    assert.match(rejected(cp, keyA as unknown as KeyObject), /not an Ed25519 public key/);
    fc.assert(
      fc.property(fc.anything(), (x) => {
        assert.equal(verifyCheckpoint(x, pubA).ok, false);
      }),
    );
  });

  test('a checkpoint signed by another key is rejected, naming the key', () => {
    const byB = sign(keyB);
    assert.ok(verifyCheckpoint(byB, pubB).ok);
    assert.match(rejected(byB, pubA), new RegExp(`key ${keyB.keyId}.*key ${keyA.keyId}`));
    // A forged key id gets as far as the signature check.
    assert.match(rejected({ ...byB, keyId: keyA.keyId }, pubA), new RegExp(`key ${keyA.keyId}`));
  });

  test('a key of another type is not a verifying key', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    assert.match(rejected(sign(), publicKey), /not an Ed25519 public key/);
  });
});

describe('keys', () => {
  test('keyIdOf is the first 16 hex characters of SHA-256 over the SPKI DER', () => {
    const der = pubA.export({ type: 'spki', format: 'der' });
    const want = createHash('sha256').update(der).digest('hex').slice(0, 16);
    assert.equal(keyIdOf(pubA), want);
    assert.equal(keyA.keyId, want);
    assert.notEqual(keyA.keyId, keyB.keyId);
  });

  test('loadPublicKey takes an Ed25519 SPKI PEM and nothing else', () => {
    assert.equal(keyIdOf(loadPublicKey(keyA.publicKeyPem)), keyA.keyId);
    const ed = generateKeyPairSync('ed25519');
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    for (const bad of [
      '',
      'hello',
      ed.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      ec.publicKey.export({ type: 'spki', format: 'pem' }) as string,
      `${keyA.publicKeyPem}${keyB.publicKeyPem}`,
      keyA.publicKeyPem.replace('MCow', 'MC!w'),
      '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n',
      42 as unknown as string,
    ]) {
      assert.throws(() => loadPublicKey(bad), TypeError, String(bad).slice(0, 40));
    }
  });

  test('the signing key never shows its private half', () => {
    const shown = [
      JSON.stringify(keyA),
      inspect(keyA, { showHidden: true, depth: 5 }),
      String(keyA),
      `${keyA}`,
      ...Object.values(keyA).map((v) => inspect(v, { showHidden: true })),
    ].join('\n');
    assert.doesNotMatch(shown, /PRIVATE|KeyObject/);
    assert.match(shown, new RegExp(keyA.keyId));
    for (const v of Object.values(keyA)) assert.equal(typeof v === 'object' && v !== null, false);
    assert.ok(Object.isFrozen(keyA));
  });

  test('a new key file is 0600 in a 0700 directory, and loads again as the same key', () => {
    const dir = freshDir();
    const file = join(dir, 'signing-key.pem');
    const key = loadOrCreateSigningKey(file);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.match(readFileSync(file, 'utf8'), /^-----BEGIN PRIVATE KEY-----\n/);
    assert.deepEqual(readdirSync(dir), ['signing-key.pem']);
    const again = loadOrCreateSigningKey(file);
    assert.equal(again.keyId, key.keyId);
    assert.equal(again.publicKeyPem, key.publicKeyPem);
    const msg = Buffer.from('hello');
    assert.deepEqual(again.sign(msg), key.sign(msg)); // Ed25519 signatures are deterministic
  });

  test('a key file that group or others can access is refused', () => {
    const dir = freshDir();
    const file = join(dir, 'signing-key.pem');
    loadOrCreateSigningKey(file);
    for (const mode of [0o644, 0o640, 0o604, 0o620]) {
      chmodSync(file, mode);
      assert.throws(
        () => loadOrCreateSigningKey(file),
        (err: Error) => err.message.includes(file) && /group and others/.test(err.message),
      );
    }
    chmodSync(file, 0o400);
    assert.doesNotThrow(() => loadOrCreateSigningKey(file));
  });

  test('a key file that is not an Ed25519 private key is refused without quoting it', () => {
    const dir = freshDir();
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const rsaPem = ec.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const cases: [string, string, RegExp][] = [
      ['garbage.pem', 'TOP-SECRET-GARBAGE-abcdef\n', /does not hold a PEM private key/],
      ['public.pem', keyA.publicKeyPem, /does not hold a PEM private key/],
      ['ec.pem', rsaPem, /ec key, not Ed25519/],
      ['empty.pem', '', /does not hold a PEM private key/],
    ];
    for (const [name, content, reason] of cases) {
      const file = join(dir, name);
      writeFileSync(file, content, { mode: 0o600 });
      assert.throws(
        () => loadOrCreateSigningKey(file),
        (err: Error) => {
          assert.match(err.message, reason);
          assert.ok(err.message.includes(file));
          for (const line of content.split('\n').filter((l) => l.length > 8)) {
            assert.ok(!err.message.includes(line.slice(0, 12)), err.message);
          }
          assert.ok(!err.message.includes('SECRET'));
          assert.equal((err as { cause?: unknown }).cause, undefined);
          return true;
        },
      );
    }
    assert.throws(() => loadOrCreateSigningKey(dir), /not a regular file/);
  });

  test('processes creating the key at the same moment all end up with one key', async (t) => {
    for (let round = 0; round < 2; round++) {
      const dir = freshDir();
      const file = join(dir, 'signing-key.pem');
      const results = await race(file, join(root, `go-${dirs}`), 4);
      assert.equal(new Set(results.map((r) => r.keyId)).size, 1, JSON.stringify(results));
      assert.equal(results[0]!.keyId, loadOrCreateSigningKey(file).keyId);
      assert.deepEqual(readdirSync(dir), ['signing-key.pem']); // no temp files left behind
      const early = results.filter((r) => r.before === 'absent').length;
      t.diagnostic(`round ${round}: ${early} of 4 processes found no key when they started`);
    }
  });
});

const CHILD = `
const { existsSync } = await import('node:fs');
const { loadOrCreateSigningKey } = await import(process.argv[1]);
const [file, go] = process.argv.slice(2);
process.stdout.write('ready\\n');
const nap = new Int32Array(new SharedArrayBuffer(4));
while (!existsSync(go)) Atomics.wait(nap, 0, 0, 1);
const before = existsSync(file) ? 'present' : 'absent';
const key = loadOrCreateSigningKey(file);
process.stdout.write(JSON.stringify({ keyId: key.keyId, before }) + '\\n');
`;

/** Starts `n` processes, lets them all call loadOrCreateSigningKey(file) at once (bounded). */
async function race(
  file: string,
  go: string,
  n: number,
): Promise<{ keyId: string; before: string }[]> {
  const url = new URL('./checkpoint.ts', import.meta.url).href;
  const children = Array.from({ length: n }, () =>
    spawn(process.execPath, ['--input-type=module', '-e', CHILD, url, file, go], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_NO_WARNINGS: '1' },
    }),
  );
  const timer = setTimeout(() => {
    for (const c of children) c.kill('SIGKILL');
  }, 60_000);
  try {
    const outputs = children.map(collect);
    await Promise.all(outputs.map((o) => o.ready));
    writeFileSync(go, '');
    const texts = await Promise.all(outputs.map((o) => o.done));
    return texts.map(
      (text) => JSON.parse(text.split('\n')[1]!) as { keyId: string; before: string },
    );
  } finally {
    clearTimeout(timer);
  }
}

function collect(child: ChildProcess): { ready: Promise<void>; done: Promise<string> } {
  let out = '';
  let err = '';
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    onReady = resolve;
  });
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.startsWith('ready\n')) onReady();
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const done = new Promise<string>((resolve, reject) => {
    child.on('close', (code) => {
      onReady();
      if (code === 0) resolve(out);
      else reject(new Error(`child exited with ${code}: ${err}`));
    });
  });
  return { ready, done };
}
