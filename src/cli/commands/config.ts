import { config, out, parse, UsageError } from '../args.ts';

export const help = 'config check [--config FILE]   validate the config and exit';

export async function run(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb !== 'check') throw new UsageError(`unknown config command "${verb ?? ''}"`);
  const cfg = config(parse(rest, {}).flags);
  out(`config ok: ${cfg.connections.length} connection(s), data in ${cfg.data_dir}`);
  return 0;
}
