/**
 * Moves one SSH channel's bytes between the client and the upstream, with flow control in both
 * directions (a paused side stops reading, so SSH windows stop the sender), taps that see every
 * byte (recording, file audit), EOF passed on, and the upstream's exit status or signal handed
 * to the client before the channel closes.
 *
 * https://www.rfc-editor.org/rfc/rfc4254#section-6.10
 *   "the server MAY send ... 'exit-status' ... It is RECOMMENDED that the server send this
 *    message before the channel is closed"
 */
import type { Duplex, Readable, Writable } from 'node:stream';
import type ssh2 from 'ssh2';

export interface RelayTaps {
  /** Bytes from the client to the upstream (stdin, uploads); may throw to end the channel. */
  fromClient?(chunk: Buffer): void;
  /** Bytes from the upstream to the client (stdout, downloads); may throw. */
  fromServer?(chunk: Buffer): void;
  /** The upstream's stderr. */
  fromServerStderr?(chunk: Buffer): void;
}

export interface RelayResult {
  /** ok: the upstream closed the channel; aborted: the client (or the gateway) did first. */
  readonly outcome: 'ok' | 'aborted' | 'error';
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly exitStatus?: number;
  readonly exitSignal?: string;
  /** Set when a tap refused the data (the channel was ended). */
  readonly error?: unknown;
}

/**
 * The upstream channel's exit status or signal. Listened for from the moment the channel opens:
 * a fast command's `exit-status` can arrive in the same read as the channel confirmation.
 */
export interface ExitInfo {
  status?: number;
  signal?: string;
  core?: boolean;
  desc?: string;
}

/**
 * @example
 * upstream.exec(cmd, (err, ch) => { const exit = watchExit(ch); ... });
 */
export function watchExit(up: ssh2.ClientChannel): ExitInfo {
  const exit: ExitInfo = {};
  up.on('exit', (code: number | null, signal?: string, core?: boolean, desc?: string) => {
    if (code !== null && code !== undefined) exit.status = code;
    else
      Object.assign(exit, {
        ...(signal !== undefined ? { signal } : {}),
        core: core === true,
        desc: desc ?? '',
      });
  });
  return exit;
}

export interface RelayHandle {
  readonly done: Promise<RelayResult>;
  /** Ends the channel from the gateway's side (termination, recording failure). */
  abort(error?: unknown): void;
}

/**
 * @example
 * const relay = relaySession(clientChannel, upstreamChannel, exit, { fromServer: (c) => rec.output(c) });
 * const result = await relay.done; // { outcome: 'ok', exitStatus: 0, bytesIn, bytesOut }
 */
export function relaySession(
  client: ssh2.ServerChannel,
  up: ssh2.ClientChannel,
  exit: ExitInfo,
  taps: RelayTaps = {},
): RelayHandle {
  const { promise, resolve } = Promise.withResolvers<RelayResult>();
  let bytesIn = 0;
  let bytesOut = 0;
  let finished = false;
  let upClosed = false;
  const finish = (outcome: RelayResult['outcome'], error?: unknown) => {
    if (finished) return;
    finished = true;
    resolve({
      outcome,
      bytesIn,
      bytesOut,
      ...(exit.status !== undefined ? { exitStatus: exit.status } : {}),
      ...(exit.signal !== undefined ? { exitSignal: exit.signal } : {}),
      ...(error !== undefined ? { error } : {}),
    });
  };
  const abort = (error?: unknown) => {
    if (finished) return;
    finish(error === undefined ? 'aborted' : 'error', error);
    if (!upClosed) up.close();
    client.end();
  };
  const tapped = (tap: ((c: Buffer) => void) | undefined, chunk: Buffer): boolean => {
    try {
      tap?.(chunk);
      return true;
    } catch (err) {
      abort(err);
      return false;
    }
  };
  client.on('data', (chunk: Buffer) => {
    bytesIn += chunk.length;
    if (tapped(taps.fromClient, chunk) && !up.write(chunk)) client.pause();
  });
  up.on('drain', () => client.resume());
  client.on('end', () => {
    if (!upClosed) up.end();
  });
  pipeTapped(up, client, (c) => {
    bytesOut += c.length;
    return tapped(taps.fromServer, c);
  });
  pipeTapped(up.stderr, client.stderr, (c) => {
    bytesOut += c.length;
    return tapped(taps.fromServerStderr, c);
  });
  up.on('close', () => {
    upClosed = true;
    if (finished) return;
    void flushed(client).then(() => {
      if (exit.status !== undefined) client.exit(exit.status);
      else if (exit.signal !== undefined) client.exit(exit.signal, exit.core, exit.desc);
      client.end();
      finish('ok');
    });
  });
  client.on('close', () => {
    if (!upClosed) up.close();
    finish('aborted');
  });
  client.on('error', () => abort());
  up.on('error', (err: unknown) => abort(err));
  client.resume();
  return { done: promise, abort };
}

/** Copies from → to with backpressure; `seen` may refuse a chunk (then it is not written). */
function pipeTapped(from: Readable, to: Writable, seen: (chunk: Buffer) => boolean): void {
  from.on('data', (chunk: Buffer) => {
    if (seen(chunk) && !to.write(chunk)) from.pause();
  });
  to.on('drain', () => from.resume());
}

/** Resolves once everything written to the client's channel (and its stderr) has gone out. */
function flushed(client: ssh2.ServerChannel): Promise<void> {
  const waits = [client as Writable, client.stderr].map(
    (w) =>
      new Promise<void>((resolve) => {
        if (!w.writableNeedDrain) return resolve();
        w.once('drain', resolve);
        w.once('close', resolve);
      }),
  );
  return Promise.all(waits).then(() => undefined);
}

/**
 * A port-forwarded TCP stream: bytes both ways, EOF passed on, both closed when either closes.
 *
 * @example
 * const { bytesIn, bytesOut } = await relayStream(clientChannel, upstreamChannel);
 */
export function relayStream(
  client: Duplex,
  up: Duplex,
): Promise<{ bytesIn: number; bytesOut: number }> {
  return new Promise((resolve) => {
    let bytesIn = 0;
    let bytesOut = 0;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      client.destroy();
      up.destroy();
      resolve({ bytesIn, bytesOut });
    };
    pipeTapped(client, up, (c) => {
      bytesIn += c.length;
      return true;
    });
    pipeTapped(up, client, (c) => {
      bytesOut += c.length;
      return true;
    });
    client.on('end', () => up.end());
    up.on('end', () => client.end());
    for (const s of [client, up]) {
      s.on('close', finish);
      s.on('error', finish);
    }
  });
}
