/**
 * The `airlock` CLI. Commands are thin: parse flags, load config, call services.
 * Exit codes: 0 ok, 1 failure, 2 usage or config error.
 */
import { GatewayError } from '../errors.ts';
import { UsageError } from './args.ts';
import * as access from './commands/access.ts';
import * as audit from './commands/audit.ts';
import * as config from './commands/config.ts';
import * as demo from './commands/demo.ts';
import * as login from './commands/login.ts';
import * as policy from './commands/policy.ts';
import * as reviews from './commands/reviews.ts';
import * as serve from './commands/serve.ts';
import * as sshHostKey from './commands/ssh-host-key.ts';
import * as sshKey from './commands/ssh-key.ts';
import * as token from './commands/token.ts';
import * as user from './commands/user.ts';

interface CommandModule {
  readonly help: string;
  run(argv: string[]): Promise<number>;
}

const COMMANDS = {
  serve,
  demo,
  login,
  token,
  user,
  reviews,
  access,
  policy,
  audit,
  'ssh-key': sshKey,
  'ssh-host-key': sshHostKey,
  config,
} satisfies Record<string, CommandModule>;

function usage(): string {
  const lines = Object.values(COMMANDS).map((c: CommandModule) => `  ${c.help}`);
  return `usage: airlock <command> [--config FILE]\n\n${lines.join('\n')}\n
--config defaults to $AIRLOCK_CONFIG, then ./airlock.yaml\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  const cmd = (COMMANDS as Record<string, CommandModule>)[name];
  if (!cmd) {
    process.stderr.write(`airlock: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  return cmd.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`airlock: ${err.message}\n`);
      process.exitCode = 2;
    } else if (err instanceof GatewayError) {
      process.stderr.write(`airlock: ${err.clientMessage}\n`);
      process.exitCode = err.code === 'GW_CONFIG_INVALID' ? 2 : 1;
    } else {
      process.stderr.write(`airlock: ${(err as Error)?.message ?? String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
