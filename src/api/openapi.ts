/**
 * The OpenAPI 3.1 description of the control-plane API, served at `/api/openapi.json` (and
 * `/v1/openapi.json`). Kept next to the route table; a test checks every route is described.
 */

type Op = {
  readonly summary: string;
  readonly roles?: readonly string[];
  readonly query?: readonly string[];
  readonly body?: Record<string, unknown>;
  readonly produces?: string;
  /** Answers besides 200, 400, 401 and 403: status → what it means. */
  readonly errors?: Readonly<Record<string, string>>;
};

const ERROR = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' } },
      required: ['code', 'message'],
    },
  },
};

const FILTER = [
  'connection',
  'identity',
  'owner',
  'session',
  'type',
  'decision',
  'table',
  'access',
  'since',
  'until',
  'limit',
];

/** Path → method → operation, in the order of the route table. */
export const OPERATIONS: Record<string, Record<string, Op>> = {
  '/api/whoami': {
    get: {
      summary: 'The caller: identity, groups, roles (and the CSRF token of a console session)',
    },
  },
  '/api/tokens': {
    get: { summary: 'Agent tokens you own (admins: all)' },
    post: {
      summary: 'Mint an agent token owned by the calling OIDC user',
      roles: ['user'],
      body: {
        name: { type: 'string' },
        purpose: { type: 'string' },
        groups: { type: 'array', items: { type: 'string' } },
        ttl_hours: { type: 'number' },
      },
    },
  },
  '/api/tokens/{id}': { delete: { summary: 'Revoke a token you own (admins: any)' } },
  '/api/ssh-keys': {
    get: { summary: 'Registered SSH keys you own (admins: all)' },
    post: {
      summary:
        'Register an SSH public key, to the calling OIDC user or to one of their agent tokens',
      roles: ['user'],
      body: {
        public_key: { type: 'string' },
        token_id: { type: 'string' },
        ttl_hours: { type: 'number' },
      },
    },
  },
  '/api/ssh-keys/{fingerprint}': {
    delete: { summary: 'Remove an SSH key you own (admins: any); its sessions end' },
  },
  '/api/users': { get: { summary: 'Offboarded users', roles: ['admin'] } },
  '/api/users/{name}/disable': {
    post: {
      summary: 'Offboard a human: revoke their tokens, end their sessions',
      roles: ['admin'],
      body: { reason: { type: 'string' } },
    },
  },
  '/api/users/{name}/enable': { post: { summary: 'Let a human back in', roles: ['admin'] } },
  '/api/sessions': { get: { summary: 'Live sessions', roles: ['admin', 'auditor'] } },
  '/api/reviews': {
    get: {
      summary: 'Reviews (approvers, admins, auditors: all; others: their own)',
      query: ['status', 'limit'],
    },
  },
  '/api/reviews/{id}': { get: { summary: 'One review' } },
  '/api/reviews/{id}/approve': {
    post: { summary: 'Approve a held command or grant', body: { reason: { type: 'string' } } },
  },
  '/api/reviews/{id}/deny': {
    post: {
      summary: 'Deny, with a reason for the requester',
      body: { reason: { type: 'string' } },
    },
  },
  '/api/reviews/events': {
    get: {
      summary: 'Server-sent events: `event: reviews` with the visible reviews when they change',
      produces: 'text/event-stream',
    },
  },
  '/api/access-requests': {
    post: {
      summary: 'Request time-boxed access to a connection',
      roles: ['user'],
      body: {
        connection: { type: 'string' },
        duration_minutes: { type: 'number' },
        reason: { type: 'string' },
      },
    },
  },
  '/api/audit/events': {
    get: {
      summary: 'As `airlock audit query`: statements with outcome and approval, or events by type',
      roles: ['admin', 'auditor'],
      query: FILTER,
    },
  },
  '/api/audit/sessions': {
    get: {
      summary: 'Sessions from the ledger, newest first',
      roles: ['admin', 'auditor'],
      query: FILTER,
    },
  },
  '/api/audit/sessions/{id}': {
    get: {
      summary: 'One session: its events, statements with outcomes, masking summary (replay)',
      roles: ['admin', 'auditor'],
    },
  },
  '/api/audit/sessions/{id}/recording': {
    get: {
      summary:
        'The terminal recording (asciicast v2) of an SSH session, served only when its SHA-256 matches the ledger',
      roles: ['admin', 'auditor'],
      query: ['channel'],
      produces: 'application/x-asciicast',
      errors: {
        '404': 'GW_RECORDING_UNKNOWN: the session has no terminal recording (on that channel)',
        '409':
          'GW_RECORDING_ALTERED: the file no longer matches the ledger (changed, deleted or moved)',
      },
    },
  },
  '/api/audit/verify': {
    get: {
      summary: 'Verify the ledger now; with the newest signed checkpoint and the public key',
      roles: ['admin', 'auditor'],
    },
  },
  '/api/audit/export': {
    get: {
      summary: 'A self-verifying export (JSONL or OCSF) as a download',
      roles: ['admin', 'auditor'],
      query: ['format', 'since', 'until'],
      produces: 'application/x-ndjson',
    },
  },
  '/api/connections': {
    get: {
      summary: 'Configured connections (no credentials)',
      roles: ['admin', 'auditor', 'approver'],
    },
  },
  '/api/policy': {
    get: {
      summary: 'The policy in force with each rule and its hit count from the ledger',
      roles: ['admin', 'auditor', 'approver'],
    },
  },
};

function operation(path: string, method: string, op: Op): Record<string, unknown> {
  const params = [
    ...[...path.matchAll(/\{(\w+)\}/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    })),
    ...(op.query ?? []).map((name) => ({ name, in: 'query', schema: { type: 'string' } })),
  ];
  const ok = op.produces
    ? { content: { [op.produces]: { schema: { type: 'string' } } } }
    : { content: { 'application/json': { schema: { type: 'object' } } } };
  return {
    operationId: `${method}${path.replace(/^\/api/, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
    summary: op.summary,
    ...(op.roles && { description: `Requires role: ${op.roles.join(' or ')}.` }),
    ...(params.length > 0 && { parameters: params }),
    ...(op.body && {
      requestBody: {
        content: { 'application/json': { schema: { type: 'object', properties: op.body } } },
      },
    }),
    responses: {
      '200': { description: 'OK', ...ok },
      '400': { description: 'Invalid request', content: { 'application/json': { schema: ERROR } } },
      '401': {
        description: 'Not authenticated',
        content: { 'application/json': { schema: ERROR } },
      },
      '403': {
        description: 'Forbidden (role, ownership, CSRF)',
        content: { 'application/json': { schema: ERROR } },
      },
      ...Object.fromEntries(
        Object.entries(op.errors ?? {}).map(([status, description]) => [
          status,
          { description, content: { 'application/json': { schema: ERROR } } },
        ]),
      ),
    },
  };
}

export const OPENAPI = {
  openapi: '3.1.0',
  info: {
    title: 'Airlock control-plane API',
    version: '1',
    description:
      'Every path is also served under /v1. Authenticate with `Authorization: Bearer <OIDC ID token | Airlock token>`, or, from the web console, with its session cookie; calls that change state with the cookie must send the `X-Airlock-CSRF` header (the `csrf` of /api/whoami).',
  },
  servers: [{ url: '/' }],
  components: {
    securitySchemes: {
      bearer: { type: 'http', scheme: 'bearer' },
      consoleSession: { type: 'apiKey', in: 'cookie', name: 'airlock_session' },
    },
  },
  security: [{ bearer: [] }, { consoleSession: [] }],
  paths: Object.fromEntries(
    Object.entries(OPERATIONS).map(([path, methods]) => [
      path,
      Object.fromEntries(Object.entries(methods).map(([m, op]) => [m, operation(path, m, op)])),
    ]),
  ),
} as const;
