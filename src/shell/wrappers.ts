/**
 * Programs that run other programs, and how to find what they run: `sudo -u root rm -rf /` runs
 * `rm -rf /` as root; `sh -c '...'` runs a script; `xargs rm` runs `rm` with arguments from its
 * input; `find . -exec rm {} ;` runs `rm`. The wrapper itself is judged too (by the analysis),
 * so an allow-list that does not allow `sudo` stops `sudo ls`.
 *
 * Programs not listed here are judged by their own name only; `tmux`, `make`, `parallel` and
 * the like can run anything and are best denied or reviewed by name.
 */
import { type Arg, leadingAssignments, Opaque, type OptionSpec, parseOptions } from './options.ts';

/** Facts a wrapper adds to what it runs. */
export interface WrapperFacts {
  readonly privileged?: true;
  readonly background?: true;
  readonly remote?: true;
  /** Arguments are added at run time (xargs). */
  readonly dynamic_args?: true;
  /** Names of environment variables the wrapper sets for the command. */
  readonly env?: readonly string[];
}

/** What a wrapper runs. */
export type Runs =
  | { readonly kind: 'argv'; readonly argv: readonly Arg[]; readonly facts?: WrapperFacts }
  | { readonly kind: 'script'; readonly script: Arg; readonly facts?: WrapperFacts }
  /** A shell or interpreter that reads its program from standard input. */
  | { readonly kind: 'stdin'; readonly shell: boolean; readonly facts?: WrapperFacts }
  /** An interpreter given code inline (`python -c`, `perl -e`, an awk program). */
  | { readonly kind: 'code' }
  | { readonly kind: 'none' };

type Wrapper = (args: readonly Arg[], program: string) => Runs | readonly Runs[];

const NONE: Runs = { kind: 'none' };

function argvOrNone(argv: readonly Arg[], facts?: WrapperFacts): Runs {
  if (argv.length === 0) return NONE;
  return facts === undefined ? { kind: 'argv', argv } : { kind: 'argv', argv, facts };
}

/** `sudo [options] [VAR=value...] command`: runs as another user. */
const SUDO: OptionSpec = {
  shortArg: 'CDghpRrtTUu',
  shortFlag: 'AbEeHiKklnPSsVv',
  longArg: [
    'close-from',
    'chdir',
    'group',
    'host',
    'prompt',
    'chroot',
    'role',
    'type',
    'command-timeout',
    'other-user',
    'user',
  ],
  longFlag: [
    'askpass',
    'background',
    'edit',
    'set-home',
    'help',
    'login',
    'remove-timestamp',
    'reset-timestamp',
    'list',
    'non-interactive',
    'preserve-groups',
    'stdin',
    'shell',
    'version',
    'validate',
  ],
  longOptional: ['preserve-env'],
};

function sudo(args: readonly Arg[]): Runs {
  const { options, rest } = parseOptions(args, SUDO, 'sudo');
  const o = (k: string) => options.has(k);
  if (o('e') || o('edit') || o('l') || o('list') || o('v') || o('validate') || o('k') || o('K')) {
    return NONE;
  }
  if (o('V') || o('version') || o('help')) return NONE;
  const { names, rest: argv } = leadingAssignments(rest);
  const background = o('b') || o('background');
  const facts: WrapperFacts = {
    privileged: true,
    ...(background ? { background: true } : {}),
    ...(names.length > 0 ? { env: names } : {}),
  };
  if (argv.length === 0 && (o('i') || o('s') || o('login') || o('shell'))) {
    return { kind: 'stdin', shell: true, facts };
  }
  return argvOrNone(argv, facts);
}

const DOAS: OptionSpec = { shortArg: 'Cu', shortFlag: 'Lns' };

function doas(args: readonly Arg[]): Runs {
  const { options, rest } = parseOptions(args, DOAS, 'doas');
  if (options.has('C') || options.has('L')) return NONE;
  if (rest.length === 0) return { kind: 'stdin', shell: true, facts: { privileged: true } };
  return argvOrNone(rest, { privileged: true });
}

const PKEXEC: OptionSpec = {
  longArg: ['user'],
  longFlag: ['keep-cwd', 'disable-internal-agent', 'help', 'version'],
};

function pkexec(args: readonly Arg[]): Runs {
  const { rest } = parseOptions(args, PKEXEC, 'pkexec');
  if (rest.length === 0) return { kind: 'stdin', shell: true, facts: { privileged: true } };
  return argvOrNone(rest, { privileged: true });
}

const RUN0: OptionSpec = {
  shortArg: 'ugD',
  longArg: [
    'user',
    'group',
    'nice',
    'chdir',
    'setenv',
    'unit',
    'property',
    'slice',
    'description',
    'background',
    'machine',
  ],
  longFlag: ['no-ask-password', 'help', 'version'],
};

function run0(args: readonly Arg[]): Runs {
  const { rest } = parseOptions(args, RUN0, 'run0');
  if (rest.length === 0) return { kind: 'stdin', shell: true, facts: { privileged: true } };
  return argvOrNone(rest, { privileged: true });
}

/** `su [options] [-] [user [args]]`: `-c` runs a command through the user's shell. */
function su(args: readonly Arg[]): Runs {
  let script: Arg | undefined;
  for (let i = 0; i < args.length; i += 1) {
    const a = args[i] as Arg;
    if (a.dynamic)
      throw new Opaque(`cannot tell which command su runs: ${a.value} is only known at run time`);
    const v = a.value;
    if (v === '-c' || v === '--command' || v === '--session-command') {
      script = args[i + 1];
      i += 1;
    } else if (v.startsWith('--command=') || v.startsWith('--session-command=')) {
      script = { value: v.slice(v.indexOf('=') + 1), dynamic: false };
    } else if (/^-[a-z]*c$/.test(v) && !v.startsWith('--')) {
      script = args[i + 1];
      i += 1;
    }
  }
  if (script !== undefined) return { kind: 'script', script, facts: { privileged: true } };
  return { kind: 'stdin', shell: true, facts: { privileged: true } };
}

const ENV: OptionSpec = {
  shortArg: 'uCS',
  shortFlag: 'i0v',
  longArg: ['unset', 'chdir', 'split-string'],
  longFlag: ['ignore-environment', 'null', 'debug', 'help', 'version'],
  longOptional: ['block-signal', 'default-signal', 'ignore-signal', 'list-signal-handling'],
};

/** `env [options] [NAME=value...] [command]`; `-S 'cmd args'` splits a string into a command. */
function env(args: readonly Arg[]): Runs {
  const { options, rest } = parseOptions(args.map(dashIsIgnore), ENV, 'env');
  const { names, rest: argv } = leadingAssignments(rest);
  const facts: WrapperFacts = names.length > 0 ? { env: names } : {};
  const split = options.get('S') ?? options.get('split-string');
  if (typeof split === 'string') {
    const tail = argv.map((a) => a.value).join(' ');
    return { kind: 'script', script: { value: `${split} ${tail}`.trim(), dynamic: false }, facts };
  }
  return argvOrNone(argv, facts);
}

/** `env -` means `env -i`. */
function dashIsIgnore(a: Arg): Arg {
  return a.value === '-' && !a.dynamic ? { value: '-i', dynamic: false } : a;
}

function simpleWrapper(spec: OptionSpec, facts?: WrapperFacts, skip = 0): Wrapper {
  return (args, program) => {
    const { rest } = parseOptions(args, spec, program);
    return argvOrNone(rest.slice(skip), facts);
  };
}

const NICE: OptionSpec = { shortArg: 'n', longArg: ['adjustment'], longFlag: ['help', 'version'] };

function nice(args: readonly Arg[]): Runs {
  // `nice -10 cmd` is an old form of `-n 10`.
  const first = args[0];
  const rest = first !== undefined && /^-\d+$/.test(first.value) ? args.slice(1) : args;
  return argvOrNone(parseOptions(rest, NICE, 'nice').rest);
}

const TIMEOUT: OptionSpec = {
  shortArg: 'ks',
  shortFlag: 'v',
  longArg: ['kill-after', 'signal'],
  longFlag: ['foreground', 'preserve-status', 'verbose', 'help', 'version'],
};

const TIME: OptionSpec = {
  shortArg: 'fo',
  shortFlag: 'apvq',
  longArg: ['format', 'output'],
  longFlag: ['append', 'portability', 'verbose', 'quiet', 'help', 'version'],
};

const STDBUF: OptionSpec = {
  shortArg: 'ioe',
  longArg: ['input', 'output', 'error'],
  longFlag: ['help', 'version'],
};

const IONICE: OptionSpec = {
  shortArg: 'cnpPu',
  shortFlag: 't',
  longArg: ['class', 'classdata', 'pid', 'pgid', 'uid'],
  longFlag: ['ignore', 'help', 'version'],
};

function ionice(args: readonly Arg[]): Runs {
  const { options, rest } = parseOptions(args, IONICE, 'ionice');
  if (['p', 'P', 'u', 'pid', 'pgid', 'uid'].some((k) => options.has(k))) return NONE;
  return argvOrNone(rest);
}

const TASKSET: OptionSpec = {
  shortFlag: 'acp',
  longFlag: ['all-tasks', 'cpu-list', 'pid', 'help', 'version'],
};

function taskset(args: readonly Arg[]): Runs {
  const { options, rest } = parseOptions(args, TASKSET, 'taskset');
  if (options.has('p') || options.has('pid')) return NONE;
  return argvOrNone(rest.slice(1));
}

const CHROOT: OptionSpec = {
  longArg: ['userspec', 'groups'],
  longFlag: ['skip-chdir', 'help', 'version'],
};

function chroot(args: readonly Arg[]): Runs {
  const { rest } = parseOptions(args, CHROOT, 'chroot');
  if (rest.length === 0) return NONE;
  if (rest.length === 1) return { kind: 'stdin', shell: true };
  return argvOrNone(rest.slice(1));
}

const FLOCK: OptionSpec = {
  shortArg: 'wEc',
  shortFlag: 'sxunoFhV',
  longArg: ['timeout', 'conflict-exit-code', 'command'],
  longFlag: [
    'shared',
    'exclusive',
    'unlock',
    'nonblock',
    'close',
    'no-fork',
    'verbose',
    'help',
    'version',
  ],
};

function flock(args: readonly Arg[]): Runs {
  const { options, rest } = parseOptions(args, FLOCK, 'flock');
  const command = options.get('c') ?? options.get('command');
  if (typeof command === 'string')
    return { kind: 'script', script: { value: command, dynamic: false } };
  if (rest[1]?.value === '-c' && rest[2] !== undefined) return { kind: 'script', script: rest[2] };
  return argvOrNone(rest.slice(1));
}

const XARGS: OptionSpec = {
  shortArg: 'adEILnPs',
  shortFlag: '0optrx',
  longArg: [
    'arg-file',
    'delimiter',
    'eof',
    'replace',
    'max-lines',
    'max-args',
    'max-procs',
    'max-chars',
    'process-slot-var',
  ],
  longFlag: [
    'null',
    'interactive',
    'no-run-if-empty',
    'verbose',
    'exit',
    'open-tty',
    'show-limits',
    'help',
    'version',
  ],
};

/** xargs runs its command (default `echo`) with arguments read from its input. */
function xargs(args: readonly Arg[]): Runs {
  // `-e[eof]`, `-i[replace]`, `-l[lines]` take an optional attached argument.
  const normalised = args.map((a) =>
    /^-[eil]/.test(a.value) && !a.dynamic ? { value: '-t', dynamic: false } : a,
  );
  const { rest } = parseOptions(normalised, XARGS, 'xargs');
  const argv = rest.length > 0 ? rest : [{ value: 'echo', dynamic: false }];
  return { kind: 'argv', argv, facts: { dynamic_args: true } };
}

const WATCH: OptionSpec = {
  shortArg: 'nq',
  shortFlag: 'bcCdefghprtvwx',
  longArg: ['interval', 'equexit'],
  longFlag: [
    'beep',
    'color',
    'no-color',
    'differences',
    'errexit',
    'chgexit',
    'no-title',
    'no-wrap',
    'exec',
    'precise',
    'help',
    'version',
    'no-linewrap',
    'no-rerun',
  ],
  longOptional: ['differences'],
};

function watch(args: readonly Arg[]): Runs {
  const { options, rest } = parseOptions(args, WATCH, 'watch');
  if (options.has('x') || options.has('exec')) return argvOrNone(rest);
  if (rest.length === 0) return NONE;
  return joined(rest);
}

/** Arguments joined with spaces and run by a shell (`watch`, `eval`, `ssh host cmd`). */
function joined(argv: readonly Arg[], facts?: WrapperFacts): Runs {
  const script = {
    value: argv.map((a) => a.value).join(' '),
    dynamic: argv.some((a) => a.dynamic),
  };
  return facts === undefined ? { kind: 'script', script } : { kind: 'script', script, facts };
}

function execBuiltin(args: readonly Arg[]): Runs {
  return argvOrNone(parseOptions(args, { shortArg: 'a', shortFlag: 'cl' }, 'exec').rest);
}

function commandBuiltin(args: readonly Arg[]): Runs {
  const { options, rest } = parseOptions(args, { shortFlag: 'pvV' }, 'command');
  if (options.has('v') || options.has('V')) return NONE;
  return argvOrNone(rest);
}

function evalBuiltin(args: readonly Arg[]): Runs {
  return args.length === 0 ? NONE : joined(args);
}

/** POSIX shells: `-c script`, a script file, or commands from standard input. */
const SHELL: OptionSpec = {
  shortArg: 'oO',
  shortFlag: 'abcefhiklmnprstuvxBCEHPT',
  longArg: ['rcfile', 'init-file'],
  longFlag: [
    'norc',
    'noprofile',
    'login',
    'posix',
    'noediting',
    'restricted',
    'verbose',
    'version',
    'help',
    'debugger',
    'dump-strings',
    'dump-po-strings',
    'pretty-print',
  ],
  plus: true,
};

function shell(args: readonly Arg[], program: string): Runs {
  const { options, rest } = parseOptions(args, SHELL, program);
  if (options.has('version') || options.has('help')) return NONE;
  if (options.has('c')) {
    const script = rest[0];
    if (script === undefined) throw new Opaque(`${program} -c needs a command string`);
    return { kind: 'script', script };
  }
  if (rest.length > 0 && !options.has('s')) return NONE; // runs a script file, judged by its name
  return { kind: 'stdin', shell: true };
}

/** Interpreters: inline code flags, a script file, or a program on standard input. */
function interpreter(codeFlags: RegExp, stdinFlags: RegExp = /^-$/): Wrapper {
  return (args) => {
    for (const a of args) {
      if (a.dynamic) return { kind: 'code' };
      if (codeFlags.test(a.value)) return { kind: 'code' };
      if (stdinFlags.test(a.value)) return { kind: 'stdin', shell: false };
      if (!a.value.startsWith('-')) return NONE;
    }
    return { kind: 'stdin', shell: false };
  };
}

/** awk's program is its first non-option argument unless given with `-f`. */
function awk(args: readonly Arg[]): Runs {
  for (let i = 0; i < args.length; i += 1) {
    const v = (args[i] as Arg).value;
    if (v === '-f' || v.startsWith('--file')) return NONE;
    if (v === '-v' || v === '-F') {
      i += 1;
      continue;
    }
    if (v === '--')
      return args[i + 1] === undefined ? { kind: 'stdin', shell: false } : { kind: 'code' };
    if (!v.startsWith('-')) return { kind: 'code' };
  }
  return { kind: 'stdin', shell: false };
}

const SSH: OptionSpec = {
  shortArg: 'BbcDEeFIiJLlmOopQRSWw',
  shortFlag: '46AaCfGgKkMNnqsTtVvXxYy',
};

/** `ssh [options] destination [command...]`: the command runs on another host. */
function ssh(args: readonly Arg[]): Runs {
  const { options, rest } = parseOptions(args, SSH, 'ssh');
  if (rest.length === 0 || options.has('N') || options.has('W') || options.has('O')) return NONE;
  const command = rest.slice(1);
  if (command.length === 0) return { kind: 'stdin', shell: true, facts: { remote: true } };
  if (options.has('s')) return NONE;
  return joined(command, { remote: true });
}

/** `kubectl exec POD [options] -- command...` runs the command in a container. */
function kubectl(args: readonly Arg[]): Runs {
  const dashes = args.findIndex((a) => a.value === '--');
  const before = dashes < 0 ? args : args.slice(0, dashes);
  if (!before.some((a) => a.value === 'exec' && !a.dynamic)) return NONE;
  if (dashes < 0) throw new Opaque('cannot tell which command kubectl exec runs without --');
  const argv = args.slice(dashes + 1);
  return argv.length === 0 ? NONE : { kind: 'argv', argv, facts: { remote: true } };
}

const DOCKER_EXEC: OptionSpec = {
  shortArg: 'euw',
  shortFlag: 'dit',
  longArg: ['detach-keys', 'env', 'env-file', 'user', 'workdir'],
  longFlag: ['detach', 'interactive', 'privileged', 'tty'],
};

/** `docker exec [options] CONTAINER command...` (podman alike). */
function containerExec(args: readonly Arg[], program: string): Runs {
  if (args[0]?.value !== 'exec') return NONE;
  const { rest } = parseOptions(args.slice(1), DOCKER_EXEC, `${program} exec`);
  const argv = rest.slice(1);
  return argv.length === 0 ? NONE : { kind: 'argv', argv, facts: { remote: true } };
}

/** `find ... -exec cmd args {} ;` (also `-execdir`, `-ok`, `-okdir`, ended by `;` or `+`). */
function find(args: readonly Arg[]): Runs[] {
  const runs: Runs[] = [];
  for (let i = 0; i < args.length; i += 1) {
    if (!/^-(exec|execdir|ok|okdir)$/.test((args[i] as Arg).value)) continue;
    const start = i + 1;
    let end = start;
    while (end < args.length && !/^[;+]$/.test((args[end] as Arg).value)) end += 1;
    const argv = args
      .slice(start, end)
      .map((a) => (a.value === '{}' ? { value: '{}', dynamic: true } : a));
    if (argv.length > 0) runs.push({ kind: 'argv', argv });
    i = end;
  }
  return runs;
}

function busybox(args: readonly Arg[]): Runs {
  const first = args[0];
  if (first === undefined || first.value.startsWith('-')) return NONE;
  return { kind: 'argv', argv: args };
}

/** util-linux `script -c command [file]`. */
function scriptCmd(args: readonly Arg[]): Runs {
  const spec: OptionSpec = {
    shortArg: 'cEIOBTmo',
    shortFlag: 'aefqh',
    longArg: [
      'command',
      'echo',
      'log-in',
      'log-out',
      'log-io',
      'log-timing',
      'logging-format',
      'output-limit',
    ],
    longFlag: ['append', 'return', 'flush', 'force', 'quiet', 'help', 'version'],
  };
  const { options } = parseOptions(args, spec, 'script');
  const command = options.get('c') ?? options.get('command');
  if (typeof command === 'string')
    return { kind: 'script', script: { value: command, dynamic: false } };
  return { kind: 'stdin', shell: true };
}

const SHELLS = [
  'sh',
  'bash',
  'dash',
  'zsh',
  'ksh',
  'mksh',
  'ash',
  'yash',
  'posh',
  'ksh93',
  'rbash',
];

/** Program name (basename) → how to find what it runs. */
export const WRAPPERS: ReadonlyMap<string, Wrapper> = new Map<string, Wrapper>([
  ['sudo', sudo],
  ['doas', doas],
  ['pkexec', pkexec],
  ['run0', run0],
  ['su', su],
  ['env', env],
  ['nice', nice],
  [
    'nohup',
    (args) => argvOrNone(args[0]?.value === '--' ? args.slice(1) : args, { background: true }),
  ],
  [
    'setsid',
    simpleWrapper({ shortFlag: 'cfw', longFlag: ['ctty', 'fork', 'wait'] }, { background: true }),
  ],
  ['timeout', simpleWrapper(TIMEOUT, undefined, 1)],
  ['time', simpleWrapper(TIME)],
  ['stdbuf', simpleWrapper(STDBUF)],
  ['ionice', ionice],
  ['taskset', taskset],
  ['chroot', chroot],
  ['flock', flock],
  ['xargs', xargs],
  ['watch', watch],
  ['exec', execBuiltin],
  ['command', commandBuiltin],
  ['builtin', (args) => argvOrNone(args)],
  ['eval', evalBuiltin],
  ['ssh', ssh],
  ['kubectl', kubectl],
  ['docker', containerExec],
  ['podman', containerExec],
  ['find', find],
  ['busybox', busybox],
  ['script', scriptCmd],
  ['awk', awk],
  ['gawk', awk],
  ['mawk', awk],
  ['nawk', awk],
  ['perl', interpreter(/^-[a-zA-Z]*[eE]$/)],
  ['ruby', interpreter(/^-[a-zA-Z]*e$/)],
  ['node', interpreter(/^(-[a-zA-Z]*[ep]|--eval|--print)$/)],
  ['nodejs', interpreter(/^(-[a-zA-Z]*[ep]|--eval|--print)$/)],
  ['php', interpreter(/^-[a-zA-Z]*r$/)],
  ['lua', interpreter(/^-[a-zA-Z]*e$/)],
  ['Rscript', interpreter(/^-e$/)],
  ['osascript', interpreter(/^-e$/)],
  ['pwsh', interpreter(/^-(c|Command|EncodedCommand|e|ec)$/i)],
  ['powershell', interpreter(/^-(c|Command|EncodedCommand|e|ec)$/i)],
  ['fish', interpreter(/^(-[a-zA-Z]*c|--command)$/)],
  ['csh', interpreter(/^-[a-zA-Z]*c$/)],
  ['tcsh', interpreter(/^-[a-zA-Z]*c$/)],
  ...SHELLS.map((s): [string, Wrapper] => [s, shell]),
]);

/**
 * The wrapper for a program name: exact, then `python3.12`-style versioned interpreters.
 *
 * @example
 * wrapperFor('python3.11'); // the python interpreter rule
 */
export function wrapperFor(program: string): Wrapper | undefined {
  const exact = WRAPPERS.get(program);
  if (exact !== undefined) return exact;
  if (/^python[0-9.]*$/.test(program) || program === 'pypy3' || program === 'pypy') {
    return interpreter(/^-[a-zA-Z]*c$/, /^-$/);
  }
  return undefined;
}
