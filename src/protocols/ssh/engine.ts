/**
 * The SSH engine: an SSH server (ssh2) in front of the configured `type: ssh` connections.
 * Sockets come from the gateway's listener; each becomes an SshConnection (connection.ts). A
 * client that has not authenticated within `ssh.auth_timeout_ms` is dropped, and whatever a
 * client sends (garbage, a truncated handshake, an oversized packet) ends only its own socket.
 */

import type { Socket } from 'node:net';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import type { AirlockConfig } from '../../config/schema.ts';
import type { Authenticator } from '../../identity/authenticator.ts';
import type { SecretScanner } from '../../masking/secret-scan.ts';
import type { SessionPipeline } from '../../session/pipeline.ts';
import type { SessionRegistry } from '../../session/registry.ts';
import type { Logger } from '../../telemetry/logger.ts';
import { SshConnection } from './connection.ts';
import { HostKeyPins } from './host-keys.ts';
import {
  type HostKey,
  loadOrCreateHostKey,
  type UpstreamCredential,
  upstreamCredential,
} from './keys.ts';

export interface SshEngineDeps {
  readonly config: AirlockConfig;
  readonly logger: Logger;
  readonly pipeline: SessionPipeline;
  readonly authenticator: Authenticator;
  readonly sessions: SessionRegistry;
  readonly clock: () => number;
  /** Finds secrets in recordings; shared with the pipeline's command-line redaction. */
  readonly scanner: SecretScanner;
}

/**
 * @example
 * const engine = new SshEngine(deps);
 * net.createServer((s) => engine.handle(s)).listen(2222);
 */
export class SshEngine {
  readonly protocol = 'ssh';
  readonly hostKey: HostKey;
  readonly #deps: SshEngineDeps;
  readonly #server: ssh2.Server;
  readonly #credentials: ReadonlyMap<string, UpstreamCredential>;
  readonly #pins: HostKeyPins;
  /** Login timers by remote address, until the connection authenticates. */
  readonly #pending = new Map<string, { socket: Socket; timer: NodeJS.Timeout }>();
  #shuttingDown = false;

  /** Resolves keys and credentials now: a bad one is a start-up error naming its key. */
  constructor(deps: SshEngineDeps) {
    this.#deps = deps;
    const { config } = deps;
    this.hostKey = loadOrCreateHostKey(config.ssh.host_key_file, config.data_dir);
    this.#credentials = new Map(
      config.connections.flatMap((c, i) =>
        c.type === 'ssh' ? [[c.name, upstreamCredential(c, `connections[${i}]`)] as const] : [],
      ),
    );
    this.#pins = new HostKeyPins(config.data_dir);
    this.#server = new ssh2.Server(
      { hostKeys: [this.hostKey.private], ident: 'Airlock' },
      (client, info) => this.#connection(client, info),
    );
    this.#server.on('error', (err: Error) => deps.logger.error('ssh server error', { err }));
  }

  /** The pins kept for `host_key: pin` connections. */
  get pins(): HostKeyPins {
    return this.#pins;
  }

  shutdown(): void {
    this.#shuttingDown = true;
  }

  /** Takes one accepted TCP socket. Never throws. */
  handle(socket: Socket): void {
    socket.setNoDelay(true);
    socket.on('error', (err) =>
      this.#deps.logger.debug('ssh socket error', { error: err.message }),
    );
    if (this.#shuttingDown) {
      socket.destroy();
      return;
    }
    const key = `${socket.remoteAddress}:${socket.remotePort}`;
    const timer = setTimeout(() => {
      this.#pending.delete(key);
      socket.destroy();
    }, this.#deps.config.ssh.auth_timeout_ms);
    timer.unref();
    this.#pending.set(key, { socket, timer });
    socket.once('close', () => {
      clearTimeout(timer);
      this.#pending.delete(key);
    });
    this.#server.injectSocket(socket);
  }

  #connection(client: ssh2.Connection, info: ssh2.ClientInfo): void {
    const conn = new SshConnection(
      {
        ...this.#deps,
        pins: this.#pins,
        credentials: this.#credentials,
        recordingsDir: join(this.#deps.config.data_dir, 'recordings'),
      },
      client,
      info,
    );
    const key = `${info.ip}:${info.port}`;
    conn.onAuthenticated = () => {
      const p = this.#pending.get(key);
      if (p) clearTimeout(p.timer);
      this.#pending.delete(key);
    };
  }
}
