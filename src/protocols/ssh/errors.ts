/**
 * GatewayErrors as an SSH client sees them. SSH has no error message on a channel, so a refused
 * command is a line on the channel's stderr (`airlock: <message> (<code>)`) and an exit status:
 * 126 when policy or a reviewer said no, 255 (what `ssh` itself uses for its own failures) when
 * the gateway could not run it. Authentication failures are USERAUTH_FAILURE, nothing more.
 *
 * | kind | SSH |
 * | --- | --- |
 * | denied | stderr line, exit status 126; port forward: open failure |
 * | unauthenticated | USERAUTH_FAILURE; after login (unknown connection): stderr line, exit 255 |
 * | invalid, unavailable, timeout, internal | stderr line, exit status 255, channel closed |
 */
import type { GatewayError } from '../../errors.ts';

/** Policy or a reviewer refused the command. */
export const EXIT_DENIED = 126;
/** The gateway could not run the command (upstream down, ledger down, malformed data...). */
export const EXIT_GATEWAY = 255;

/**
 * @example
 * exitStatusFor(new GatewayError('GW_POLICY_DENIED', 'no')); // 126
 */
export function exitStatusFor(err: GatewayError): number {
  return err.kind === 'denied' ? EXIT_DENIED : EXIT_GATEWAY;
}

/**
 * The line written to the client's stderr. A terminal needs `\r\n`.
 *
 * @example
 * stderrLine(err, true); // 'airlock: denied by policy rule "no-rm-rf" (GW_POLICY_DENIED)\r\n'
 */
export function stderrLine(err: GatewayError, terminal: boolean): string {
  return `airlock: ${err.clientMessage} (${err.code})${terminal ? '\r\n' : '\n'}`;
}
