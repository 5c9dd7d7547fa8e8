/**
 * Field schemas shared by every part of the config (connections, sinks, ...).
 */
import { z } from 'zod';
import { Secret } from './secret.ts';

/** A name users type: letters, digits, `_ . -`, up to 63, starting alphanumeric. */
export const nameField = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/,
    'letters, digits, _ . - (max 63), starting alphanumeric',
  );

/** A secret value (already resolved from `${env:}` / `${file:}`), wrapped so it never prints. */
export const secretField = z
  .union([z.string(), z.instanceof(Secret)])
  .transform((v) => (v instanceof Secret ? v : new Secret(v)));
