/**
 * SFTP version 3 packets, sans-I/O: `SftpFramer.push(bytes) → packets`, then decoders for the
 * messages the audit needs, named as in the draft. Only what is needed to know which file was
 * read or written, how much, and what was changed is decoded; other packets pass as `{ type }`.
 *
 * https://datatracker.ietf.org/doc/html/draft-ietf-secsh-filexfer-02#section-3
 *   "All packets transmitted over the secure connection are of the following format:
 *    uint32 length, byte type, byte[length - 1] data payload"
 */
import { GatewayError } from '../../../errors.ts';

export const SSH_FXP = {
  INIT: 1,
  VERSION: 2,
  OPEN: 3,
  CLOSE: 4,
  READ: 5,
  WRITE: 6,
  LSTAT: 7,
  FSTAT: 8,
  SETSTAT: 9,
  FSETSTAT: 10,
  OPENDIR: 11,
  READDIR: 12,
  REMOVE: 13,
  MKDIR: 14,
  RMDIR: 15,
  REALPATH: 16,
  STAT: 17,
  RENAME: 18,
  READLINK: 19,
  SYMLINK: 20,
  STATUS: 101,
  HANDLE: 102,
  DATA: 103,
  NAME: 104,
  ATTRS: 105,
  EXTENDED: 200,
  EXTENDED_REPLY: 201,
} as const;

/** `pflags` of SSH_FXP_OPEN. */
export const SSH_FXF = { READ: 1, WRITE: 2, APPEND: 4, CREAT: 8, TRUNC: 16, EXCL: 32 } as const;
export const SSH_FX_OK = 0;

/** OpenSSH's sftp-server refuses packets over 256 KiB; a margin above that is a protocol error. */
export const SFTP_MAX_PACKET = 1024 * 1024;

/** Client → server requests the audit reads. */
export type SftpRequest =
  | { readonly type: 'SSH_FXP_INIT' }
  | {
      readonly type: 'SSH_FXP_OPEN';
      readonly id: number;
      readonly path: string;
      readonly pflags: number;
    }
  | { readonly type: 'SSH_FXP_CLOSE'; readonly id: number; readonly handle: string }
  | {
      readonly type: 'SSH_FXP_READ';
      readonly id: number;
      readonly handle: string;
      readonly offset: number;
      readonly length: number;
    }
  | {
      readonly type: 'SSH_FXP_WRITE';
      readonly id: number;
      readonly handle: string;
      readonly offset: number;
      readonly data: Uint8Array;
    }
  | {
      readonly type: 'SSH_FXP_PATH_OP';
      /** REMOVE, MKDIR, RMDIR, SETSTAT, OPENDIR, RENAME, SYMLINK or an extended rename/link. */
      readonly op: string;
      readonly id: number;
      readonly path: string;
      readonly target?: string;
    }
  | { readonly type: 'other'; readonly code: number; readonly id: number | undefined };

/** Server → client replies the audit reads. */
export type SftpReply =
  | { readonly type: 'SSH_FXP_STATUS'; readonly id: number; readonly code: number }
  | { readonly type: 'SSH_FXP_HANDLE'; readonly id: number; readonly handle: string }
  | {
      readonly type: 'SSH_FXP_DATA';
      readonly id: number;
      readonly length: number;
      readonly data: Uint8Array;
    }
  | { readonly type: 'other'; readonly code: number; readonly id: number | undefined };

/**
 * Splits a byte stream into SFTP packets (type byte + payload), without copying when a packet
 * lies inside one chunk.
 *
 * @example
 * const framer = new SftpFramer();
 * for (const packet of framer.push(chunk)) decodeRequest(packet);
 */
export class SftpFramer {
  #chunks: Buffer[] = [];
  #buffered = 0;
  readonly #max: number;

  constructor(maxPacket = SFTP_MAX_PACKET) {
    this.#max = maxPacket;
  }

  get buffered(): number {
    return this.#buffered;
  }

  push(chunk: Uint8Array): Buffer[] {
    if (chunk.length > 0) {
      this.#chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
      this.#buffered += chunk.length;
    }
    const out: Buffer[] = [];
    for (;;) {
      if (this.#buffered < 4) return out;
      const length = this.#peek(4).readUInt32BE(0);
      if (length < 1 || length > this.#max) {
        throw new GatewayError('GW_PROTOCOL_MALFORMED', `SFTP packet of ${length} bytes refused`);
      }
      if (this.#buffered < 4 + length) return out;
      out.push(this.#take(4 + length).subarray(4));
    }
  }

  /** The first n bytes (n ≤ buffered), copying only the chunks they span. */
  #peek(n: number): Buffer {
    const first = this.#chunks[0] as Buffer;
    if (first.length >= n) return first;
    this.#merge(n);
    return this.#chunks[0] as Buffer;
  }

  #take(n: number): Buffer {
    this.#merge(n);
    const first = this.#chunks[0] as Buffer;
    this.#buffered -= n;
    if (first.length === n) this.#chunks.shift();
    else this.#chunks[0] = first.subarray(n);
    return first.subarray(0, n);
  }

  /** Joins the leading chunks until the first holds at least n bytes (linear in what it joins). */
  #merge(n: number): void {
    if ((this.#chunks[0] as Buffer).length >= n) return;
    let count = 0;
    let size = 0;
    while (size < n) size += (this.#chunks[count++] as Buffer).length;
    const merged = Buffer.concat(this.#chunks.slice(0, count), size);
    this.#chunks.splice(0, count, merged);
  }
}

/** Reads SFTP fields; any overrun is a malformed packet. */
class Fields {
  readonly #b: Buffer;
  #at = 1;

  constructor(packet: Buffer) {
    this.#b = packet;
  }

  u32(): number {
    this.#need(4);
    const v = this.#b.readUInt32BE(this.#at);
    this.#at += 4;
    return v;
  }

  u64(): number {
    this.#need(8);
    const v = this.#b.readBigUInt64BE(this.#at);
    this.#at += 8;
    return Number(v);
  }

  bytes(): Buffer {
    const n = this.u32();
    this.#need(n);
    const v = this.#b.subarray(this.#at, this.#at + n);
    this.#at += n;
    return v;
  }

  /** Paths are bytes on the wire; shown as UTF-8 (invalid sequences replaced). */
  text(): string {
    return this.bytes().toString('utf8');
  }

  #need(n: number): void {
    if (this.#at + n > this.#b.length) {
      throw new GatewayError('GW_PROTOCOL_MALFORMED', 'truncated SFTP packet');
    }
  }
}

const PATH_OPS: Readonly<Record<number, string>> = {
  [SSH_FXP.REMOVE]: 'remove',
  [SSH_FXP.MKDIR]: 'mkdir',
  [SSH_FXP.RMDIR]: 'rmdir',
  [SSH_FXP.SETSTAT]: 'setstat',
  [SSH_FXP.OPENDIR]: 'opendir',
};

/** Extended requests that change files: name → op. */
const EXTENDED_OPS: Readonly<Record<string, string>> = {
  'posix-rename@openssh.com': 'rename',
  'hardlink@openssh.com': 'link',
};

/**
 * One client packet (type byte first).
 *
 * @example
 * decodeRequest(packet); // { type: 'SSH_FXP_OPEN', id: 1, path: '/tmp/x', pflags: 26 }
 */
export function decodeRequest(packet: Buffer): SftpRequest {
  const code = packet[0] as number;
  if (code === SSH_FXP.INIT) return { type: 'SSH_FXP_INIT' };
  const f = new Fields(packet);
  const id = f.u32();
  switch (code) {
    case SSH_FXP.OPEN:
      return { type: 'SSH_FXP_OPEN', id, path: f.text(), pflags: f.u32() };
    case SSH_FXP.CLOSE:
      return { type: 'SSH_FXP_CLOSE', id, handle: f.bytes().toString('hex') };
    case SSH_FXP.READ:
      return {
        type: 'SSH_FXP_READ',
        id,
        handle: f.bytes().toString('hex'),
        offset: f.u64(),
        length: f.u32(),
      };
    case SSH_FXP.WRITE:
      return {
        type: 'SSH_FXP_WRITE',
        id,
        handle: f.bytes().toString('hex'),
        offset: f.u64(),
        data: f.bytes(),
      };
    case SSH_FXP.RENAME:
      return { type: 'SSH_FXP_PATH_OP', op: 'rename', id, path: f.text(), target: f.text() };
    case SSH_FXP.SYMLINK:
      // OpenSSH sends (targetpath, linkpath), reversed from the draft; both are recorded.
      return { type: 'SSH_FXP_PATH_OP', op: 'symlink', id, path: f.text(), target: f.text() };
    case SSH_FXP.EXTENDED:
      return extended(f, id);
    default: {
      const op = PATH_OPS[code];
      if (op !== undefined) return { type: 'SSH_FXP_PATH_OP', op, id, path: f.text() };
      return { type: 'other', code, id };
    }
  }
}

function extended(f: Fields, id: number): SftpRequest {
  const name = f.text();
  const op = EXTENDED_OPS[name];
  if (op === undefined) return { type: 'other', code: SSH_FXP.EXTENDED, id };
  return { type: 'SSH_FXP_PATH_OP', op, id, path: f.text(), target: f.text() };
}

/**
 * One server packet (type byte first).
 *
 * @example
 * decodeReply(packet); // { type: 'SSH_FXP_HANDLE', id: 1, handle: '00000001' }
 */
export function decodeReply(packet: Buffer): SftpReply {
  const code = packet[0] as number;
  if (code === SSH_FXP.VERSION) return { type: 'other', code, id: undefined };
  const f = new Fields(packet);
  const id = f.u32();
  switch (code) {
    case SSH_FXP.STATUS:
      return { type: 'SSH_FXP_STATUS', id, code: f.u32() };
    case SSH_FXP.HANDLE:
      return { type: 'SSH_FXP_HANDLE', id, handle: f.bytes().toString('hex') };
    case SSH_FXP.DATA: {
      const data = f.bytes();
      return { type: 'SSH_FXP_DATA', id, length: data.length, data };
    }
    default:
      return { type: 'other', code, id };
  }
}
