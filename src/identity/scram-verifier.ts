/**
 * The SCRAM-SHA-256 verifier (RFC 5802 section 3, RFC 7677) for a password: what a server keeps
 * instead of the password. Used for Airlock tokens and for the demo's PostgreSQL roles.
 * The password is NFKC-normalised, which equals SASLprep for the ASCII secrets we generate.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import type { ScramVerifier } from './types.ts';

/**
 * @example
 * const v = scramVerifier('correct horse'); // { salt, iterations: 4096, storedKey, serverKey }
 */
export function scramVerifier(
  password: string,
  iterations = 4096,
  salt: Buffer = randomBytes(16),
): ScramVerifier {
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  return {
    salt: salt.toString('base64'),
    iterations,
    storedKey: createHash('sha256').update(clientKey).digest('base64'),
    serverKey: createHmac('sha256', salted).update('Server Key').digest('base64'),
  };
}
