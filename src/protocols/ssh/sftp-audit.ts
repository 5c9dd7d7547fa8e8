/**
 * Watches an SFTP conversation (both directions, as relayed) and reports what happened to files:
 * each file read or written, with its path, direction, bytes and (when it was moved from start to
 * end in order) its SHA-256; and each change (remove, rename, mkdir, rmdir, setstat, symlink)
 * with its outcome. Observation only: the bytes are relayed untouched. A packet that cannot be
 * parsed throws, and the engine ends the channel: what cannot be audited is not relayed.
 */
import { createHash, type Hash } from 'node:crypto';
import {
  decodeReply,
  decodeRequest,
  SftpFramer,
  type SftpRequest,
  SSH_FX_OK,
  SSH_FXF,
} from './codec/sftp.ts';

export interface FileTransferred {
  readonly type: 'file.transferred';
  readonly data: {
    readonly via: 'sftp' | 'scp';
    readonly path: string;
    /** scp: the file's name as sent (under `path` when that is a directory). */
    readonly name?: string;
    readonly direction: 'upload' | 'download';
    readonly bytes: number;
    /** SHA-256 (hex) of the whole file, when it was transferred in order from its start. */
    readonly sha256?: string;
    /** False when the channel ended before the file was closed. */
    readonly complete: boolean;
  };
}

export interface FileChanged {
  readonly type: 'file.changed';
  readonly data: {
    readonly via: 'sftp';
    readonly op: string;
    readonly path: string;
    readonly target?: string;
    readonly ok: boolean;
  };
}

export type FileEvent = FileTransferred | FileChanged;

interface OpenFile {
  readonly path: string;
  readonly write: boolean;
  read: number;
  written: number;
  /** In-order hash of the bytes moved so far, dropped at the first gap or overlap. */
  hash: Hash | undefined;
  hashed: number;
}

type Pending =
  | { readonly op: 'open'; readonly path: string; readonly write: boolean }
  | { readonly op: 'read'; readonly handle: string; readonly offset: number }
  | {
      readonly op: 'change';
      readonly name: string;
      readonly path: string;
      readonly target?: string;
    };

/**
 * @example
 * const audit = new SftpAudit((e) => ledger.appendLater(e));
 * clientStream.on('data', (c) => audit.fromClient(c)); upstream.on('data', (c) => audit.fromServer(c));
 */
export class SftpAudit {
  readonly #emit: (e: FileEvent) => void;
  readonly #client = new SftpFramer();
  readonly #server = new SftpFramer();
  readonly #pending = new Map<number, Pending>();
  readonly #files = new Map<string, OpenFile>();

  constructor(emit: (e: FileEvent) => void) {
    this.#emit = emit;
  }

  /** Bytes from the client (requests). */
  fromClient(chunk: Uint8Array): void {
    for (const packet of this.#client.push(chunk)) this.#request(decodeRequest(packet));
  }

  /** Bytes from the server (replies). */
  fromServer(chunk: Uint8Array): void {
    for (const packet of this.#server.push(chunk)) {
      const reply = decodeReply(packet);
      if (reply.type === 'other') {
        if (reply.id !== undefined) this.#pending.delete(reply.id);
        continue;
      }
      const p = this.#pending.get(reply.id);
      this.#pending.delete(reply.id);
      if (p === undefined) continue;
      if (reply.type === 'SSH_FXP_HANDLE' && p.op === 'open') this.#opened(reply.handle, p);
      else if (reply.type === 'SSH_FXP_DATA' && p.op === 'read') this.#read(p, reply.data);
      else if (reply.type === 'SSH_FXP_STATUS' && p.op === 'change') {
        this.#emit({ type: 'file.changed', data: changeData(p, reply.code === SSH_FX_OK) });
      }
    }
  }

  /** The channel ended: files still open are reported as incomplete. */
  end(): void {
    for (const [handle, f] of this.#files) {
      this.#files.delete(handle);
      this.#report(f, false);
    }
  }

  #request(r: SftpRequest): void {
    switch (r.type) {
      case 'SSH_FXP_OPEN': {
        const write = (r.pflags & (SSH_FXF.WRITE | SSH_FXF.APPEND | SSH_FXF.CREAT)) !== 0;
        this.#pending.set(r.id, { op: 'open', path: r.path, write });
        break;
      }
      case 'SSH_FXP_READ':
        this.#pending.set(r.id, { op: 'read', handle: r.handle, offset: r.offset });
        break;
      case 'SSH_FXP_WRITE':
        this.#written(r.handle, r.offset, r.data);
        break;
      case 'SSH_FXP_CLOSE': {
        const f = this.#files.get(r.handle);
        this.#files.delete(r.handle);
        if (f !== undefined) this.#report(f, true);
        break;
      }
      case 'SSH_FXP_PATH_OP':
        if (r.op === 'opendir') break;
        this.#pending.set(r.id, {
          op: 'change',
          name: r.op,
          path: r.path,
          ...(r.target !== undefined ? { target: r.target } : {}),
        });
        break;
      default:
    }
  }

  #opened(handle: string, p: Extract<Pending, { op: 'open' }>): void {
    this.#files.set(handle, {
      path: p.path,
      write: p.write,
      read: 0,
      written: 0,
      hash: createHash('sha256'),
      hashed: 0,
    });
  }

  #read(p: Extract<Pending, { op: 'read' }>, data: Uint8Array): void {
    const f = this.#files.get(p.handle);
    if (f === undefined) return;
    f.read += data.length;
    hashInOrder(f, p.offset, data);
  }

  #written(handle: string, offset: number, data: Uint8Array): void {
    const f = this.#files.get(handle);
    if (f === undefined) return;
    f.written += data.length;
    hashInOrder(f, offset, data);
  }

  #report(f: OpenFile, complete: boolean): void {
    if (!f.write && f.read === 0) return; // opened and closed without moving data: a stat
    const upload = f.written > 0 || (f.write && f.read === 0);
    const bytes = upload ? f.written : f.read;
    const whole = f.hash !== undefined && f.hashed === bytes && complete;
    this.#emit({
      type: 'file.transferred',
      data: {
        via: 'sftp',
        path: f.path,
        direction: upload ? 'upload' : 'download',
        bytes,
        ...(whole ? { sha256: (f.hash as Hash).digest('hex') } : {}),
        complete,
      },
    });
  }
}

function hashInOrder(f: OpenFile, offset: number, data: Uint8Array): void {
  if (f.hash === undefined) return;
  if (offset !== f.hashed) {
    f.hash = undefined;
    return;
  }
  f.hash.update(data);
  f.hashed += data.length;
}

function changeData(p: Extract<Pending, { op: 'change' }>, ok: boolean): FileChanged['data'] {
  return {
    via: 'sftp',
    op: p.name,
    path: p.path,
    ...(p.target !== undefined ? { target: p.target } : {}),
    ok,
  };
}
