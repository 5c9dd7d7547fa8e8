import { PolicyHolder } from '../../policy/holder.ts';
import { startGateway } from '../../server/gateway.ts';
import { createLogger } from '../../telemetry/logger.ts';
import { config, parse } from '../args.ts';
import { untilSignal } from '../signals.ts';

export const help = 'serve [--config FILE]          run the gateway';

/** `airlock serve`: run the listeners from config until SIGINT/SIGTERM. */
export async function run(argv: string[]): Promise<number> {
  const { flags } = parse(argv, {});
  const cfg = config(flags);
  const logger = createLogger({ level: cfg.log.level });
  const gw = await startGateway(cfg, { logger });
  // SIGHUP re-reads the policy file now (it is also watched for changes).
  const hup = () => {
    if (gw.policy instanceof PolicyHolder) void gw.policy.reload();
  };
  process.on('SIGHUP', hup);
  await untilSignal();
  process.off('SIGHUP', hup);
  logger.info('shutting down');
  await gw.close();
  return 0;
}
