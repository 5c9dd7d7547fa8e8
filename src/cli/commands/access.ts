import type { Review } from '../../review/store.ts';
import { apiCall, apiTarget } from '../api-client.ts';
import { config, parse, parseDuration, required, str, UsageError } from '../args.ts';
import { bearer } from './login.ts';

export const help = `access request CONNECTION --for 1h --reason TEXT   time-boxed access, approved like a review`;

/** `airlock access request`: asks approvers for time-boxed access to a connection. */
export async function run(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb !== 'request') throw new UsageError(`unknown access command "${verb ?? ''}"`);
  const { flags, positionals } = parse(rest, {
    for: { type: 'string' },
    reason: { type: 'string' },
    api: { type: 'string' },
    issuer: { type: 'string' },
  });
  const connection = positionals[0];
  if (!connection) throw new UsageError('access request needs a connection name');
  const cfg = config(flags);
  const r = await apiCall<Review>(
    apiTarget(cfg, str(flags, 'api')),
    'POST',
    '/api/access-requests',
    await bearer(cfg, str(flags, 'issuer')),
    {
      connection,
      duration_minutes: parseDuration(required(flags, 'for')) / 60_000,
      reason: required(flags, 'reason'),
    },
  );
  process.stderr.write(`requested access to ${connection}: review ${r.id} is ${r.status}\n`);
  process.stdout.write(`${r.id}\n`);
  return 0;
}
