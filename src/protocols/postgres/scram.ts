/**
 * SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL uses it, both roles:
 * - client: the gateway authenticating to the upstream with the credential it holds;
 * - server: a client proving it knows an Airlock token without sending it.
 * https://www.postgresql.org/docs/current/sasl-authentication.html
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { scramVerifier } from '../../identity/scram-verifier.ts';
import type { ScramVerifier } from '../../identity/types.ts';

export const SCRAM_SHA_256 = 'SCRAM-SHA-256';

const hmac = (key: Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest();
const sha256 = (data: Buffer): Buffer => createHash('sha256').update(data).digest();

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = (a[i] as number) ^ (b[i] as number);
  return out;
}

/** Parses `k=v,k=v` SCRAM attributes. Values may contain '='. */
export function parseAttributes(s: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of s.split(',')) {
    const eq = part.indexOf('=');
    if (eq !== 1) throw new Error('malformed SCRAM attribute');
    out.set(part.slice(0, 1), part.slice(2));
  }
  return out;
}

/**
 * Client side. `start()` gives client-first-message, `continue(serverFirst)` gives
 * client-final-message, `finish(serverFinal)` checks the server signature (mutual auth).
 *
 * @example
 * const c = new ScramClient(password);
 * send(c.start()); send(c.continue(serverFirst)); c.finish(serverFinal);
 */
export class ScramClient {
  readonly #password: string;
  readonly #nonce = randomBytes(18).toString('base64');
  #authMessage = '';
  #serverKey: Buffer | undefined;

  constructor(password: string) {
    this.#password = password;
  }

  start(): string {
    return `n,,n=,r=${this.#nonce}`;
  }

  continue(serverFirst: string): string {
    const a = parseAttributes(serverFirst);
    const nonce = a.get('r') ?? '';
    const salt = Buffer.from(a.get('s') ?? '', 'base64');
    const iterations = Number(a.get('i'));
    if (!nonce.startsWith(this.#nonce) || nonce.length === this.#nonce.length) {
      throw new Error('SCRAM server nonce does not extend the client nonce');
    }
    if (
      !Number.isInteger(iterations) ||
      iterations < 1 ||
      iterations > 10_000_000 ||
      salt.length === 0
    ) {
      throw new Error('SCRAM server-first-message is invalid');
    }
    const salted = pbkdf2Sync(this.#password.normalize('NFKC'), salt, iterations, 32, 'sha256');
    const clientKey = hmac(salted, 'Client Key');
    this.#serverKey = hmac(salted, 'Server Key');
    const withoutProof = `c=biws,r=${nonce}`;
    this.#authMessage = `n=,r=${this.#nonce},${serverFirst},${withoutProof}`;
    const proof = xor(clientKey, hmac(sha256(clientKey), this.#authMessage));
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  finish(serverFinal: string): void {
    const a = parseAttributes(serverFinal);
    if (a.has('e')) throw new Error(`SCRAM server error: ${a.get('e')}`);
    if (!this.#serverKey) throw new Error('SCRAM exchange out of order');
    const want = hmac(this.#serverKey, this.#authMessage);
    const got = Buffer.from(a.get('v') ?? '', 'base64');
    if (got.length !== want.length || !timingSafeEqual(got, want)) {
      throw new Error('SCRAM server signature does not match');
    }
  }
}

/**
 * Server side of one exchange against a stored verifier. A missing verifier still runs the
 * exchange with a random one, so an unknown user cannot be told apart from a wrong password.
 */
export class ScramServer {
  readonly #verifier: ScramVerifier;
  readonly #nonce = randomBytes(18).toString('base64');
  #clientFirstBare = '';
  #serverFirst = '';
  #gs2 = '';

  constructor(verifier: ScramVerifier | undefined) {
    this.#verifier = verifier ?? scramVerifier(randomBytes(16).toString('hex'), 4096);
  }

  /** Handles client-first-message; returns server-first-message. */
  first(clientFirst: string): string {
    const m = /^([ny]|p=[^,]*),([^,]*),(.*)$/.exec(clientFirst);
    if (!m || m[1]?.startsWith('p')) throw new Error('unsupported SCRAM channel binding');
    this.#gs2 = `${m[1]},${m[2]},`;
    this.#clientFirstBare = m[3] ?? '';
    const cnonce = parseAttributes(this.#clientFirstBare).get('r');
    if (!cnonce || /[^\x21-\x2b\x2d-\x7e]/.test(cnonce)) throw new Error('invalid SCRAM nonce');
    const v = this.#verifier;
    this.#serverFirst = `r=${cnonce}${this.#nonce},s=${v.salt},i=${v.iterations}`;
    return this.#serverFirst;
  }

  /** Checks client-final-message; returns server-final-message, or undefined when the proof fails. */
  final(clientFinal: string): string | undefined {
    const a = parseAttributes(clientFinal);
    const proofIdx = clientFinal.lastIndexOf(',p=');
    if (proofIdx < 0) throw new Error('SCRAM client-final-message lacks a proof');
    if (a.get('c') !== Buffer.from(this.#gs2).toString('base64')) return undefined;
    const nonce = a.get('r') ?? '';
    if (!nonce.endsWith(this.#nonce)) return undefined;
    const authMessage = `${this.#clientFirstBare},${this.#serverFirst},${clientFinal.slice(0, proofIdx)}`;
    const storedKey = Buffer.from(this.#verifier.storedKey, 'base64');
    const proof = Buffer.from(a.get('p') ?? '', 'base64');
    if (proof.length !== storedKey.length) return undefined;
    const clientKey = xor(proof, hmac(storedKey, authMessage));
    if (!timingSafeEqual(sha256(clientKey), storedKey)) return undefined;
    const serverKey = Buffer.from(this.#verifier.serverKey, 'base64');
    return `v=${hmac(serverKey, authMessage).toString('base64')}`;
  }
}

/** md5 password hashing as PostgreSQL's AuthenticationMD5Password expects. */
export function md5Password(user: string, password: string, salt: Uint8Array): string {
  const inner = createHash('md5')
    .update(password + user)
    .digest('hex');
  return `md5${createHash('md5').update(inner).update(salt).digest('hex')}`;
}
