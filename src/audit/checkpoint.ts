/**
 * Signed checkpoints of the audit ledger: an Ed25519 signature over the ledger id, tree size and
 * Merkle root at a point in time, in the style of a C2SP signed note body
 * (https://github.com/C2SP/C2SP/blob/main/tlog-checkpoint.md), and the local signing key that
 * makes them.
 *
 * The private key never leaves this module: a {@link SigningKey} holds it in a closure and shows
 * only its key id and public half to JSON, `util.inspect` and `String()`.
 */

import {
  createHash,
  createPrivateKey,
  createPublicKey,
  sign as cryptoSign,
  verify as cryptoVerify,
  generateKeyPairSync,
  KeyObject,
  randomBytes,
} from 'node:crypto';
import {
  closeSync,
  fchmodSync,
  fstatSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { inspect } from 'node:util';

/** A signed statement that the ledger `origin` had `treeSize` events with Merkle root `rootHash`. */
export interface Checkpoint {
  /** The ledger id. */
  readonly origin: string;
  readonly treeSize: number;
  /** RFC 9162 Merkle tree hash of the first `treeSize` events, 64 lowercase hex characters. */
  readonly rootHash: string;
  /** ISO-8601 time of signing. */
  readonly time: string;
  /** {@link keyIdOf} the signing key. */
  readonly keyId: string;
  /** Base64 Ed25519 signature over {@link checkpointMessage}. */
  readonly signature: string;
}

/** The fields a signer fills in. */
export type CheckpointFields = Pick<Checkpoint, 'origin' | 'treeSize' | 'rootHash' | 'time'>;

/** What verifyCheckpoint says: the checkpoint, or why it is not trusted. */
export type CheckpointVerdict =
  | { readonly ok: true; readonly checkpoint: Checkpoint }
  | { readonly ok: false; readonly reason: string };

/** An Ed25519 signing key whose private half cannot be read back. */
export interface SigningKey {
  readonly keyId: string;
  /** The public key as an SPKI PEM. */
  readonly publicKeyPem: string;
  /** Ed25519 signature (64 bytes) over `msg`. */
  sign(msg: Buffer): Buffer;
}

const HEADER = 'airlock-checkpoint/v1';
const HEX_ROOT = /^[0-9a-f]{64}$/;
const KEY_ID = /^[0-9a-f]{16}$/;
// RFC 3339 date-time (ISO-8601 profile): full date, 'T', time, optional fraction, zone.
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it rejects
const CONTROL = /[\u0000-\u001f\u007f]/;
const SIGNATURE = /^[A-Za-z0-9+/]{86}==$/;
const CHECKPOINT_KEYS = ['keyId', 'origin', 'rootHash', 'signature', 'time', 'treeSize'];
const MAX_KEY_FILE_BYTES = 64 * 1024;

/**
 * The exact bytes a checkpoint signature covers:
 * `airlock-checkpoint/v1\n<origin>\n<treeSize>\n<base64 root>\n<time>\n<keyId>\n`.
 * Throws TypeError on a field that could make two different checkpoints sign the same bytes or
 * that does not have its documented form.
 *
 * @example
 * checkpointMessage({ origin: 'ledger-1', treeSize: 0, rootHash: EMPTY_ROOT.toString('hex'),
 *   time: '2025-01-01T00:00:00.000Z', keyId: '0123456789abcdef' }).toString();
 * // 'airlock-checkpoint/v1\nledger-1\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n…'
 */
export function checkpointMessage(c: CheckpointFields & { readonly keyId: string }): Buffer {
  const problem = fieldProblem(c);
  if (problem !== undefined) throw new TypeError(`checkpoint: ${problem}`);
  const root = Buffer.from(c.rootHash, 'hex').toString('base64');
  const lines = [HEADER, c.origin, String(c.treeSize), root, c.time, c.keyId];
  return Buffer.from(`${lines.join('\n')}\n`, 'utf8');
}

function fieldProblem(c: unknown): string | undefined {
  if (typeof c !== 'object' || c === null) return 'not an object';
  const { origin, treeSize, rootHash, time, keyId } = c as Record<string, unknown>;
  if (typeof origin !== 'string' || origin === '' || CONTROL.test(origin)) {
    return 'origin must be a non-empty string without newlines or control characters';
  }
  if (!origin.isWellFormed()) return 'origin must be well-formed Unicode';
  if (typeof treeSize !== 'number' || !Number.isSafeInteger(treeSize) || treeSize < 0) {
    return 'treeSize must be a safe integer >= 0';
  }
  if (typeof rootHash !== 'string' || !HEX_ROOT.test(rootHash)) {
    return 'rootHash must be 64 lowercase hex characters';
  }
  if (typeof time !== 'string' || !ISO_TIME.test(time) || !Number.isFinite(Date.parse(time))) {
    return 'time must be an ISO-8601 date-time such as 2025-01-01T00:00:00.000Z';
  }
  if (typeof keyId !== 'string' || !KEY_ID.test(keyId)) return 'keyId must be 16 lowercase hex';
  return undefined;
}

/**
 * The key id: the first 16 hex characters of SHA-256 over the public key's SPKI DER. A private
 * key is accepted and its public half used.
 *
 * @example
 * keyIdOf(loadPublicKey(pem)); // 'f3a1c09e5b7d2460'
 */
export function keyIdOf(publicKey: KeyObject): string {
  const pub = publicKey.type === 'private' ? createPublicKey(publicKey) : publicKey;
  if (pub.type !== 'public') throw new TypeError('keyIdOf: expected an asymmetric key');
  const der = pub.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex').slice(0, 16);
}

/**
 * Parses an Ed25519 public key from an SPKI PEM (`-----BEGIN PUBLIC KEY-----`). Anything else,
 * including a private key or a certificate, is a TypeError.
 *
 * @example
 * const key = loadPublicKey(readFileSync('airlock-signing.pub', 'utf8'));
 */
export function loadPublicKey(pemText: string): KeyObject {
  const pem = /^\s*-----BEGIN PUBLIC KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END PUBLIC KEY-----\s*$/;
  if (typeof pemText !== 'string' || !pem.test(pemText)) {
    throw new TypeError('expected one SPKI PEM public key (-----BEGIN PUBLIC KEY-----)');
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pemText, format: 'pem', type: 'spki' });
  } catch {
    throw new TypeError('the PEM does not hold a valid SPKI public key');
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new TypeError(
      `expected an Ed25519 public key, not ${key.asymmetricKeyType ?? 'unknown'}`,
    );
  }
  return key;
}

/**
 * Loads the PKCS#8 PEM Ed25519 private key in `file`, creating it first when the file does not
 * exist: the directory with mode 0700, the key written to a 0600 temp file in the same directory,
 * fsynced, then hard-linked into place. Linking fails when the name exists, so when several
 * processes start at once exactly one key wins and everyone loads that one. Refuses a file that
 * group or others can access, that is not a regular file, or that does not hold an Ed25519
 * private key; the error names the file, never its content.
 *
 * @example
 * const key = loadOrCreateSigningKey('/var/lib/airlock/keys/signing-key.pem');
 * key.keyId; // 'f3a1c09e5b7d2460'
 */
export function loadOrCreateSigningKey(file: string): SigningKey {
  const existing = readKeyFile(file);
  if (existing !== undefined) return signingKey(privateKeyFrom(existing, file));
  createKeyFile(file);
  const created = readKeyFile(file);
  if (created === undefined) throw new Error(`signing key file ${file} vanished as it was created`);
  return signingKey(privateKeyFrom(created, file));
}

/** The file's text, or undefined when it does not exist. Checks type, mode and size first. */
function readKeyFile(file: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error(`signing key file ${file} is not a regular file`);
    if ((st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
      throw new Error(
        `signing key file ${file} has mode ${mode}: group and others must have no access (chmod 600)`,
      );
    }
    if (st.size > MAX_KEY_FILE_BYTES) throw new Error(`signing key file ${file} is too large`);
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

function privateKeyFrom(pem: string, file: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    // The cause is dropped on purpose: a parser's message may quote the input.
    throw new Error(`signing key file ${file} does not hold a PEM private key`);
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new Error(`signing key file ${file} holds a ${key.asymmetricKeyType} key, not Ed25519`);
  }
  return key;
}

/** Writes a new key under a temp name and links it into place unless another process won. */
function createKeyFile(file: string): void {
  const dir = dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const tmp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  writeDurably(tmp, pem);
  try {
    linkUnlessExists(tmp, file);
  } finally {
    rmSync(tmp, { force: true });
  }
  syncDir(dir);
}

/** link(2) never replaces an existing name: EEXIST means another process created the key first. */
function linkUnlessExists(from: string, to: string): void {
  try {
    linkSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

/** Creates `file` (0600), writes and fsyncs it; removes it again if that fails. */
function writeDurably(file: string, text: string): void {
  const fd = openSync(file, 'wx', 0o600);
  let written = false;
  try {
    fchmodSync(fd, 0o600);
    writeFileSync(fd, text);
    fsyncSync(fd);
    written = true;
  } finally {
    closeSync(fd);
    if (!written) rmSync(file, { force: true });
  }
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function signingKey(privateKey: KeyObject): SigningKey {
  const publicKey = createPublicKey(privateKey);
  const keyId = keyIdOf(publicKey);
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const describe = (): string => `SigningKey(${keyId})`;
  return Object.freeze({
    keyId,
    publicKeyPem,
    sign: (msg: Buffer): Buffer => cryptoSign(null, msg, privateKey),
    toJSON: () => ({ keyId, publicKeyPem }),
    toString: describe,
    [inspect.custom]: describe,
  });
}

/**
 * Signs the fields with `key`.
 *
 * @example
 * const cp = signCheckpoint(key, {
 *   origin: 'ledger-1', treeSize: frontier.size, rootHash: frontier.root().toString('hex'),
 *   time: new Date().toISOString(),
 * });
 */
export function signCheckpoint(key: SigningKey, fields: CheckpointFields): Checkpoint {
  const { origin, treeSize, rootHash, time } = fields;
  const unsigned = { origin, treeSize, rootHash, time, keyId: key.keyId };
  const signature = key.sign(checkpointMessage(unsigned)).toString('base64');
  return Object.freeze({ ...unsigned, signature });
}

/**
 * Checks a checkpoint (for example parsed from JSON) against a trusted Ed25519 public key: exactly
 * the six fields with their documented forms, a key id naming this key, and a valid signature.
 * Never throws.
 *
 * @example
 * const r = verifyCheckpoint(JSON.parse(text), loadPublicKey(pem));
 * if (!r.ok) throw new Error(`untrusted checkpoint: ${r.reason}`);
 */
export function verifyCheckpoint(c: unknown, publicKey: KeyObject): CheckpointVerdict {
  try {
    const shape = checkpointShape(c);
    if (typeof shape === 'string') return { ok: false, reason: shape };
    if (!isEd25519PublicKey(publicKey)) {
      return { ok: false, reason: 'the verifying key is not an Ed25519 public key' };
    }
    const keyId = keyIdOf(publicKey);
    if (shape.keyId !== keyId) {
      return {
        ok: false,
        reason: `signed by key ${shape.keyId}, not by the verifying key ${keyId}`,
      };
    }
    const signature = Buffer.from(shape.signature, 'base64');
    if (!cryptoVerify(null, checkpointMessage(shape), publicKey, signature)) {
      return { ok: false, reason: `signature does not verify with key ${keyId}` };
    }
    return { ok: true, checkpoint: shape };
  } catch {
    return { ok: false, reason: 'checkpoint could not be read' };
  }
}

/** A frozen copy of a well-formed checkpoint, or why it is not one. */
function checkpointShape(c: unknown): Checkpoint | string {
  if (typeof c !== 'object' || c === null || Array.isArray(c)) return 'not an object';
  const keys = Object.keys(c).sort();
  if (keys.join() !== CHECKPOINT_KEYS.join()) {
    return `fields must be exactly ${CHECKPOINT_KEYS.join(', ')}`;
  }
  const { origin, treeSize, rootHash, time, keyId, signature } = c as Checkpoint;
  const copy = Object.freeze({ origin, treeSize, rootHash, time, keyId, signature });
  const problem = fieldProblem(copy);
  if (problem !== undefined) return problem;
  if (typeof signature !== 'string' || !SIGNATURE.test(signature)) {
    return 'signature must be 64 bytes of base64';
  }
  if (Buffer.from(signature, 'base64').toString('base64') !== signature) {
    return 'signature is not canonical base64';
  }
  return copy;
}

function isEd25519PublicKey(k: unknown): k is KeyObject {
  return k instanceof KeyObject && k.type === 'public' && k.asymmetricKeyType === 'ed25519';
}
