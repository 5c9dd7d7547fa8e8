import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import ssh2 from 'ssh2';
import { parseConfig } from '../../config/loader.ts';
import type { SshConnectionConfig } from '../../config/schema.ts';
import { GatewayError } from '../../errors.ts';
import { HostKeyPins } from './host-keys.ts';
import {
  fingerprint,
  generateEd25519,
  loadOrCreateHostKey,
  parsePublicKey,
  upstreamCredential,
} from './keys.ts';

const dir = mkdtempSync(join(tmpdir(), 'airlock-keys-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function keygen(name: string, passphrase = ''): string {
  const file = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', 'test', '-f', file]);
  return file;
}

function conn(extra: string): SshConnectionConfig {
  const cfg = parseConfig(
    `connections:\n  - { name: box, type: ssh, host: h, user: u, ${extra} }`,
    't',
    { KEY: 'unused' },
  );
  return cfg.connections[0] as SshConnectionConfig;
}

describe('ssh keys', () => {
  test('fingerprints match ssh-keygen', () => {
    const file = keygen('fp');
    const pub = readFileSync(`${file}.pub`, 'utf8');
    const expected = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`], {
      encoding: 'utf8',
    }).split(' ')[1];
    const parsed = parsePublicKey(pub);
    assert.equal(parsed.fingerprint, expected);
    assert.equal(parsed.type, 'ssh-ed25519');
    assert.equal(parsed.comment, 'test');
    assert.equal(fingerprint(parsed.blob), expected);
    assert.throws(() => parsePublicKey(readFileSync(file, 'utf8')), /private key/);
    assert.throws(() => parsePublicKey('ssh-ed25519 !!!'), /not an OpenSSH public key/);
  });

  test('generated ed25519 keys always parse, also with a leading zero byte (ssh2 keygen did not)', () => {
    for (let i = 0; i < 600; i += 1) {
      const k = generateEd25519('t');
      const priv = ssh2.utils.parseKey(k.private);
      assert.ok(!(priv instanceof Error), k.private);
      assert.equal(
        fingerprint((priv as ssh2.ParsedKey).getPublicSSH()),
        parsePublicKey(k.public).fingerprint,
      );
    }
    const file = join(dir, 'generated');
    const k = generateEd25519('by-airlock');
    writeFileSync(file, k.private, { mode: 0o600 });
    const derived = execFileSync('ssh-keygen', ['-y', '-f', file], { encoding: 'utf8' }).trim();
    assert.equal(
      derived,
      k.public,
      'OpenSSH reads the private key and derives the same public key',
    );
  });

  test('the gateway host key is generated once, 0600, and reloaded', () => {
    const a = loadOrCreateHostKey(undefined, dir);
    const b = loadOrCreateHostKey(undefined, dir);
    assert.equal(a.fingerprint, b.fingerprint);
    assert.equal(statSync(join(dir, 'ssh', 'host_ed25519_key')).mode & 0o777, 0o600);
    assert.match(a.publicLine, /^ssh-ed25519 AAAA/);
    assert.throws(() => loadOrCreateHostKey(join(dir, 'missing'), dir), GatewayError);
  });

  test('upstream credentials: key text, key path, passphrase, and clear errors', () => {
    const plain = keygen('up');
    assert.ok(upstreamCredential(conn(`private_key: ${plain}`), 'connections[0]').privateKey);
    const text = readFileSync(plain, 'utf8');
    const inline = conn(`password: pw, private_key: ${JSON.stringify(text)}`);
    const cred = upstreamCredential(inline, 'connections[0]');
    assert.equal(cred.password, 'pw');
    assert.ok(cred.privateKey);
    const locked = keygen('locked', 'sesame');
    assert.ok(
      upstreamCredential(conn(`private_key: ${locked}, passphrase: sesame`), 'c').privateKey,
    );
    assert.throws(
      () => upstreamCredential(conn(`private_key: ${locked}`), 'connections[0]'),
      /connections\[0\]\.private_key: not a usable private key/,
    );
    assert.throws(
      () => upstreamCredential(conn('private_key: /nope/key'), 'connections[0]'),
      /connections\[0\]\.private_key: cannot read key file \(ENOENT\)/,
    );
    assert.throws(
      () => parseConfig('connections:\n  - { name: box, type: ssh, host: h, user: u }', 't'),
      /connections\[0\]\.private_key: an ssh connection needs private_key or password/,
    );
    assert.throws(
      () =>
        parseConfig(
          'connections:\n  - { name: box, type: ssh, host: h, user: u, password: p, host_key: md5 }',
          't',
        ),
      /connections\[0\]\.host_key/,
    );
  });

  test('host keys: configured fingerprints or lines; pin on first use, then only that key', () => {
    const k1 = generateEd25519('k1');
    const k2 = generateEd25519('k2');
    const blob = (k: { public: string }) => parsePublicKey(k.public).blob;
    const pins = new HostKeyPins(join(dir, 'pins'));
    const fp1 = fingerprint(blob(k1));
    assert.equal(pins.check(conn(`password: p, host_key: "${fp1}"`), blob(k1)).ok, true);
    assert.equal(pins.check(conn(`password: p, host_key: "${k1.public}"`), blob(k1)).ok, true);
    const wrong = pins.check(conn(`password: p, host_key: ["${fp1}"]`), blob(k2));
    assert.deepEqual(wrong.ok ? [] : wrong.expected, [fp1]);
    const pinned = conn('password: p, host_key: pin');
    assert.deepEqual(pins.check(pinned, blob(k1)), { ok: true, fingerprint: fp1, pinned: true });
    assert.deepEqual(pins.check(pinned, blob(k1)), { ok: true, fingerprint: fp1, pinned: false });
    assert.equal(pins.check(pinned, blob(k2)).ok, false);
    assert.equal(
      pins.check({ ...pinned, port: 2222 }, blob(k2)).ok,
      true,
      'another port is another pin',
    );
    assert.equal(pins.forget('box'), 2);
    assert.equal(pins.check(pinned, blob(k2)).ok, true);
    writeFileSync(join(dir, 'pins', 'ssh', 'pinned-host-keys.json'), '{not json');
    assert.throws(() => pins.list(), /cannot read/);
  });
});
