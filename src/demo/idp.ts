/**
 * The demo's identity provider: panva's oidc-provider (a certified OpenID Provider) on a loopback
 * port with its development sign-in page, three people and one public client, the web console
 * (authorization code + PKCE). It exists so that `airlock demo` shows the console end to end
 * without an IdP of your own; a deployment points `identity.oidc` at its real one.
 *
 * `oidc-provider` is a development dependency: where it is not installed, the demo runs without
 * the console.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';

/** Who can sign in to the demo console (any password: it is the provider's development form). */
export const DEMO_PEOPLE: Readonly<
  Record<string, { email: string; groups: readonly string[]; about: string }>
> = {
  sam: { email: 'sam.dba@example.com', groups: ['dba'], about: 'admin and approver' },
  avery: { email: 'avery.audit@example.com', groups: ['compliance'], about: 'auditor' },
  dana: {
    email: 'dana.doctor@example.com',
    groups: ['clinicians'],
    about: "the demo agent's owner",
  },
};

export const DEMO_CLIENT_ID = 'airlock-console';

export interface DemoIdp {
  /** `http://127.0.0.1:PORT`. */
  readonly issuer: string;
  close(): Promise<void>;
}

/**
 * Starts the provider for a console served at `consoleUrl`; undefined when `oidc-provider` is not
 * installed.
 *
 * @example
 * const idp = await startDemoIdp('http://127.0.0.1:18080');
 * // identity.oidc: [{ issuer: idp.issuer, audience: DEMO_CLIENT_ID, client_id: DEMO_CLIENT_ID }]
 */
export async function startDemoIdp(consoleUrl: string): Promise<DemoIdp | undefined> {
  let Provider: typeof import('oidc-provider').default;
  try {
    Provider = (await import('oidc-provider')).default;
  } catch {
    return undefined;
  }
  const server: Server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), alg: 'RS256', use: 'sig', kid: 'demo-1' };
  const provider = withoutDevWarnings(
    () =>
      new Provider(issuer, {
        clients: [
          {
            client_id: DEMO_CLIENT_ID,
            application_type: 'web',
            token_endpoint_auth_method: 'none',
            redirect_uris: [`${consoleUrl}/auth/callback`],
            grant_types: ['authorization_code'],
            response_types: ['code'],
          },
        ],
        jwks: { keys: [jwk] },
        findAccount: (_ctx: unknown, id: string) => account(id),
        // groups under `profile` too: the console asks for the default scopes (openid email profile)
        claims: {
          openid: ['sub'],
          email: ['email', 'email_verified'],
          profile: ['groups'],
          groups: ['groups'],
        },
        conformIdTokenClaims: false,
        features: { devInteractions: { enabled: true } },
        pkce: { required: () => true },
        cookies: { keys: [randomBytes(32).toString('hex')] },
      }),
  );
  server.on('request', provider.callback());
  return {
    issuer,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function account(id: string) {
  const person = DEMO_PEOPLE[id];
  if (person === undefined) return undefined;
  return {
    accountId: id,
    claims: async () => ({
      sub: id,
      email: person.email,
      email_verified: true,
      groups: [...person.groups],
    }),
  };
}

/** oidc-provider warns on every start that its development forms and storage are for testing. */
function withoutDevWarnings<T>(construct: () => T): T {
  // biome-ignore lint/suspicious/noConsole: silences the library's own console output, briefly
  const warn = console.warn;
  console.warn = () => {};
  try {
    return construct();
  } finally {
    console.warn = warn;
  }
}
