/**
 * Puts the web console in front of an HTTP handler: requests that are not `/v1/*` or `/api/*`
 * go to the console; the API gets the console's session store so it accepts its cookie. Used for
 * the API listener today; the same three lines mount it on `listen.http`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuditEventInput } from '../audit/types.ts';
import type { AirlockConfig } from '../config/schema.ts';
import type { Authenticator } from '../identity/authenticator.ts';
import { type OidcIssuerConfig, toIssuerConfig } from '../identity/oidc/config.ts';
import type { Logger } from '../telemetry/logger.ts';
import { createConsoleHandler } from './handler.ts';
import { ConsoleLogin } from './login.ts';
import { ConsoleSessionStore } from './sessions.ts';

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

export interface ConsoleMount {
  /** Spread into the API's deps. */
  readonly api: { consoleSessions?: ConsoleSessionStore };
  /** The listener to give the HTTP server: console first, then `next`. */
  wrap(next: Listener): Listener;
}

/**
 * @example
 * const mount = mountConsole(config, { authenticator, ledger, logger, clock });
 * https.createServer(opts, mount.wrap(createApiHandler({ ...deps, ...mount.api })));
 */
export function mountConsole(
  config: AirlockConfig,
  deps: {
    authenticator: Authenticator;
    ledger: { appendLater(e: AuditEventInput): void };
    logger: Logger;
    clock: () => number;
  },
): ConsoleMount {
  if (!config.console.enabled) return { api: {}, wrap: (next) => next };
  const sessions = new ConsoleSessionStore({
    clock: deps.clock,
    ttlMs: config.console.session_ttl_minutes * 60_000,
  });
  const issuer = pickIssuer(config);
  const login =
    issuer &&
    new ConsoleLogin({
      issuer,
      clock: deps.clock,
      authenticate: async (idToken) => {
        const r = await deps.authenticator.verifySecret(idToken);
        return r.ok ? r.identity : r.reason;
      },
    });
  const handle = createConsoleHandler({
    sessions,
    login: login || undefined,
    publicUrl: config.console.public_url,
    ledger: deps.ledger,
    logger: deps.logger.child({ component: 'console' }),
  });
  return {
    api: { consoleSessions: sessions },
    wrap: (next) => (req, res) => {
      handle(req, res).then(
        (handled) => {
          if (!handled) next(req, res);
        },
        (err: unknown) => {
          deps.logger.error('console handler failed', { err });
          if (!res.headersSent) res.writeHead(500).end();
        },
      );
    },
  };
}

function pickIssuer(config: AirlockConfig): OidcIssuerConfig | undefined {
  const all = config.identity.oidc.map(toIssuerConfig);
  const wanted = config.console.issuer;
  return wanted === undefined
    ? all.find((i) => i.clientId !== undefined)
    : all.find((i) => i.issuer === wanted && i.clientId !== undefined);
}
