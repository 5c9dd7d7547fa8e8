import { HostKeyPins } from '../../protocols/ssh/host-keys.ts';
import { loadOrCreateHostKey } from '../../protocols/ssh/keys.ts';
import { config, out, parse, UsageError } from '../args.ts';

export const help = `ssh-host-key show                 the gateway's own SSH host key (for clients' known_hosts)
  ssh-host-key pins [--json]        upstream host keys pinned on first use (host_key: pin)
  ssh-host-key forget CONNECTION    drop a pin, e.g. after the upstream's key was rotated`;

/** `airlock ssh-host-key show|pins|forget`. */
export async function run(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  const { flags, positionals } = parse(rest, { json: { type: 'boolean' } });
  const cfg = config(flags);
  if (verb === 'show') {
    const key = loadOrCreateHostKey(cfg.ssh.host_key_file, cfg.data_dir);
    out(key.publicLine);
    process.stderr.write(`${key.fingerprint}\n`);
    return 0;
  }
  const pins = new HostKeyPins(cfg.data_dir);
  if (verb === 'pins') {
    for (const p of pins.list()) {
      out(
        flags.json
          ? JSON.stringify(p)
          : [p.connection, `${p.host}:${p.port}`, p.fingerprint, p.pinnedAt].join('\t'),
      );
    }
    return 0;
  }
  if (verb === 'forget') {
    const name = positionals[0];
    if (name === undefined) throw new UsageError('ssh-host-key forget needs a connection name');
    const n = pins.forget(name);
    process.stderr.write(
      n > 0 ? `forgot the pinned host key of ${name}\n` : `no pin for ${name}\n`,
    );
    return n > 0 ? 0 : 1;
  }
  throw new UsageError(`unknown ssh-host-key command "${verb ?? ''}"`);
}
