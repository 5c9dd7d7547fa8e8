import { upstreamCredential } from '../../protocols/ssh/keys.ts';
import { config, out, parse, UsageError } from '../args.ts';

export const help = 'config check [--config FILE]   validate the config and exit';

export async function run(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb !== 'check') throw new UsageError(`unknown config command "${verb ?? ''}"`);
  const cfg = config(parse(rest, {}).flags);
  // SSH credentials are files or key text: check they load, as the gateway will at start.
  cfg.connections.forEach((c, i) => {
    if (c.type === 'ssh') upstreamCredential(c, `connections[${i}]`);
  });
  out(`config ok: ${cfg.connections.length} connection(s), data in ${cfg.data_dir}`);
  return 0;
}
