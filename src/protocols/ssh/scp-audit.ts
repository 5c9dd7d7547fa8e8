/**
 * The legacy SCP protocol (`scp -O`, run as the command `scp -t DIR` to upload or `scp -f PATH`
 * to download), watched on the sender's side of the stream: each `C<mode> <size> <name>` record
 * and the bytes after it become a `file.transferred` event with a SHA-256. Sans-I/O; a record
 * that cannot be parsed throws and the engine ends the channel.
 *
 * There is no RFC; the protocol is OpenSSH's scp.c (source() and sink()):
 *   C0644 <size> <name>\n <size bytes> \0   a file
 *   D0755 0 <name>\n ... E\n                a directory and its end (recursive copies)
 *   T<mtime> 0 <atime> 0\n                  times of the next record (-p)
 */
import { createHash, type Hash } from 'node:crypto';
import { GatewayError } from '../../errors.ts';
import type { ExecInvocation } from '../../shell/analyze.ts';
import type { FileTransferred } from './sftp-audit.ts';

const MAX_LINE = 4096;

export interface ScpMode {
  readonly direction: 'upload' | 'download';
  /** The path given to `scp -t` / `scp -f`. */
  readonly path: string;
}

/**
 * Whether an exec command is the remote end of a legacy scp, and which way it copies.
 *
 * @example
 * scpMode(analyzeShell('scp -t -- /tmp').invocations); // { direction: 'upload', path: '/tmp' }
 */
export function scpMode(invocations: readonly ExecInvocation[]): ScpMode | undefined {
  if (invocations.length !== 1) return undefined;
  const inv = invocations[0] as ExecInvocation;
  if (inv.program !== 'scp') return undefined;
  let direction: ScpMode['direction'] | undefined;
  const rest: string[] = [];
  let ended = false;
  for (const a of inv.argv.slice(1)) {
    if (!ended && a === '--') ended = true;
    else if (!ended && a.startsWith('-')) {
      if (a.includes('t')) direction = 'upload';
      if (a.includes('f')) direction = 'download';
    } else rest.push(a);
  }
  if (direction === undefined || rest.length !== 1) return undefined;
  return { direction, path: rest[0] as string };
}

type State =
  | { readonly kind: 'line'; text: string }
  | {
      readonly kind: 'data';
      readonly name: string;
      remaining: number;
      readonly size: number;
      readonly hash: Hash;
    }
  | { readonly kind: 'status'; readonly name: string; readonly size: number; readonly hash: Hash };

/**
 * @example
 * const audit = new ScpAudit({ direction: 'upload', path: '/tmp' }, (e) => record(e));
 * clientStream.on('data', (c) => audit.push(c)); // uploads: the client sends the records
 */
export class ScpAudit {
  readonly mode: ScpMode;
  readonly #emit: (e: FileTransferred) => void;
  #state: State = { kind: 'line', text: '' };
  readonly #dirs: string[] = [];

  constructor(mode: ScpMode, emit: (e: FileTransferred) => void) {
    this.mode = mode;
    this.#emit = emit;
  }

  /** Bytes from the sending side (the client for uploads, the server for downloads). */
  push(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length) at = this.#step(chunk, at);
  }

  /** The channel ended: a file cut short is reported as incomplete. */
  end(): void {
    const s = this.#state;
    if (s.kind === 'data') this.#file(s.name, s.size - s.remaining, undefined, false);
    this.#state = { kind: 'line', text: '' };
  }

  #step(chunk: Uint8Array, at: number): number {
    const s = this.#state;
    if (s.kind === 'data') {
      const n = Math.min(s.remaining, chunk.length - at);
      s.hash.update(chunk.subarray(at, at + n));
      s.remaining -= n;
      if (s.remaining === 0)
        this.#state = { kind: 'status', name: s.name, size: s.size, hash: s.hash };
      return at + n;
    }
    if (s.kind === 'status') {
      this.#file(s.name, s.size, s.hash.digest('hex'), chunk[at] === 0);
      this.#state = { kind: 'line', text: '' };
      return at + 1;
    }
    const nl = chunk.indexOf(0x0a, at);
    const end = nl < 0 ? chunk.length : nl;
    s.text += Buffer.from(chunk.subarray(at, end)).toString('latin1');
    if (s.text.length > MAX_LINE) throw malformed('an scp record line is too long');
    if (nl < 0) return end;
    this.#record(s.text);
    return nl + 1;
  }

  #record(line: string): void {
    const type = line[0];
    if (type === 'C') {
      const m = /^C[0-7]{4} (\d{1,15}) (.+)$/.exec(line);
      if (m === null) throw malformed('malformed scp file record');
      const size = Number(m[1]);
      const name = m[2] as string;
      if (name.includes('/') || name === '..') throw malformed('scp file name with a path');
      const hash = createHash('sha256');
      this.#state =
        size === 0
          ? { kind: 'status', name, size, hash }
          : { kind: 'data', name, remaining: size, size, hash };
      return;
    }
    if (type === 'D') {
      const m = /^D[0-7]{4} \d+ (.+)$/.exec(line);
      if (m === null) throw malformed('malformed scp directory record');
      this.#dirs.push(m[1] as string);
    } else if (type === 'E') {
      this.#dirs.pop();
    } else if (type !== 'T' && type !== '\x01' && type !== '\x02') {
      throw malformed('unknown scp record');
    }
    this.#state = { kind: 'line', text: '' };
  }

  #file(name: string, bytes: number, sha256: string | undefined, complete: boolean): void {
    // The target may be a directory or the file itself: only the remote scp knows. Both are kept.
    this.#emit({
      type: 'file.transferred',
      data: {
        via: 'scp',
        path: this.mode.path,
        name: [...this.#dirs, name].join('/'),
        direction: this.mode.direction,
        bytes,
        ...(sha256 !== undefined && complete ? { sha256 } : {}),
        complete,
      },
    });
  }
}

function malformed(message: string): GatewayError {
  return new GatewayError('GW_PROTOCOL_MALFORMED', message);
}
