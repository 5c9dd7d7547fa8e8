/**
 * One SSH session channel: its terminal, environment and window changes, then the one request
 * that starts it (`shell`, `exec` or the `sftp` subsystem). That request becomes a Command and
 * passes the pipeline (policy → ledger, awaited → review) before anything is opened upstream; a
 * refusal is a stderr line and an exit status (see errors.ts). Allowed, the channel is opened on
 * the upstream connection and relayed, with interactive sessions recorded and file transfers
 * audited on the way.
 */
import type ssh2 from 'ssh2';
import type { SshConfig } from '../../config/schema.ts';
import { GatewayError, toGatewayError } from '../../errors.ts';
import type { SecretScanner } from '../../masking/secret-scan.ts';
import { compileGlobs, globMatch } from '../../policy/glob.ts';
import { Recorder, type RecordingSummary } from '../../recording/recorder.ts';
import type { Command, CommandResult } from '../../session/command.ts';
import type { SessionContext } from '../../session/context.ts';
import type { SessionPipeline } from '../../session/pipeline.ts';
import { analyzeShell } from '../../shell/analyze.ts';
import type { Logger } from '../../telemetry/logger.ts';
import { EXIT_GATEWAY, exitStatusFor, stderrLine } from './errors.ts';
import {
  type ExitInfo,
  type RelayHandle,
  type RelayResult,
  type RelayTaps,
  relaySession,
  watchExit,
} from './relay.ts';
import { ScpAudit, scpMode } from './scp-audit.ts';
import { type FileEvent, SftpAudit } from './sftp-audit.ts';

/** What a channel needs from its connection. */
export interface ChannelHost {
  readonly ctx: SessionContext;
  readonly pipeline: SessionPipeline;
  readonly log: Logger;
  readonly config: SshConfig;
  readonly scanner: SecretScanner;
  readonly recordingsDir: string;
  readonly clock: () => number;
  /** Aborted when the connection ends: a held command's review is cancelled. */
  readonly signal: AbortSignal;
  /** Resolves once the session is recorded as started (or refused). */
  ready(): Promise<void>;
  /** Set when the session must not run anything (unknown connection, no access, ledger down). */
  refusal(): GatewayError | undefined;
  /** The upstream connection (opened once, shared by the connection's channels). */
  upstream(): Promise<ssh2.Client>;
}

type Request = { kind: 'shell' } | { kind: 'exec'; text: string } | { kind: 'sftp' };

interface Pty {
  term: string;
  cols: number;
  rows: number;
  width: number;
  height: number;
  modes: ssh2.TerminalModes;
}

/**
 * @example
 * client.on('session', (accept) => new SessionChannel(host, accept(), n));
 */
export class SessionChannel {
  readonly #host: ChannelHost;
  readonly #index: number;
  readonly #forwardEnv;
  #pty: Pty | undefined;
  readonly #env: Record<string, string> = {};
  readonly #droppedEnv: string[] = [];
  #started = false;
  #client: ssh2.ServerChannel | undefined;
  #up: ssh2.ClientChannel | undefined;
  #relay: RelayHandle | undefined;
  #recorder: Recorder | undefined;
  /** Resolves when the channel has finished (its records written). */
  readonly finished: Promise<void>;
  #finish: () => void = () => {};

  constructor(host: ChannelHost, session: ssh2.Session, index: number) {
    this.#host = host;
    this.#index = index;
    this.#forwardEnv = compileGlobs(host.config.forward_env);
    this.finished = new Promise((r) => {
      this.#finish = r;
    });
    const ok = (accept: unknown) => (accept as (() => void) | undefined)?.();
    const no = (reject: unknown) => (reject as (() => void) | undefined)?.();
    session.on('pty', (accept, _reject, info) => {
      this.#pty = { ...info };
      ok(accept);
    });
    session.on('window-change', (accept, _reject, info) => this.#resize(info, () => ok(accept)));
    session.on('env', (accept, reject, info) => {
      if (globMatch(this.#forwardEnv, info.key) && Object.keys(this.#env).length < 64) {
        this.#env[info.key] = String(info.val).slice(0, 4096);
        ok(accept);
      } else {
        if (this.#droppedEnv.length < 64) this.#droppedEnv.push(info.key.slice(0, 128));
        no(reject);
      }
    });
    session.on('signal', (accept, _reject, info) => {
      this.#up?.signal(info.name);
      ok(accept);
    });
    session.on('auth-agent', (_accept, reject) => no(reject));
    session.on('x11', (_accept, reject) => no(reject));
    session.on('shell', (accept) => void this.#start(accept, { kind: 'shell' }));
    session.on(
      'exec',
      (accept, _reject, info) => void this.#start(accept, { kind: 'exec', text: info.command }),
    );
    session.on('subsystem', (accept, reject, info) => {
      if (info.name === 'sftp') void this.#start(accept, { kind: 'sftp' });
      else no(reject);
    });
    session.on('close', () => {
      if (!this.#started) this.#finish();
    });
  }

  /** Ends the channel from the gateway's side, telling the client why. */
  terminate(err: GatewayError): void {
    const client = this.#client;
    if (client === undefined || !client.writable) return;
    client.stderr.write(`\r\n${stderrLine(err, true)}`);
    client.exit(EXIT_GATEWAY);
    if (this.#relay) this.#relay.abort();
    else client.end();
  }

  #resize(info: ssh2.WindowChangeInfo, done: () => void): void {
    if (this.#pty)
      Object.assign(this.#pty, {
        cols: info.cols,
        rows: info.rows,
        width: info.width,
        height: info.height,
      });
    this.#up?.setWindow(info.rows, info.cols, info.height, info.width);
    this.#recorder?.resize(info.cols, info.rows);
    done();
  }

  async #start(accept: () => ssh2.ServerChannel, request: Request): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const client = accept();
    this.#client = client;
    client.pause(); // nothing reaches the upstream before the verdict
    const t0 = this.#host.clock();
    let commandId: string | undefined;
    try {
      await this.#host.ready();
      const refusal = this.#host.refusal();
      if (refusal) throw refusal;
      const command = this.#command(request);
      const verdict = await this.#host.pipeline.onCommand(this.#host.ctx, command, {
        notice: (text) => client.stderr.write(`airlock: ${text}${this.#pty ? '\r\n' : '\n'}`),
        signal: this.#host.signal,
      });
      if (verdict.action === 'deny') throw verdict.error;
      commandId = verdict.commandId;
      await this.#run(client, request, command, commandId, t0);
    } catch (err) {
      this.#refuse(client, err);
      if (commandId !== undefined) this.#result(commandId, t0, undefined, err);
    } finally {
      this.#finish();
    }
  }

  #command(request: Request): Command {
    const channel = this.#index;
    const pty = this.#pty
      ? { pty: { term: this.#pty.term, cols: this.#pty.cols, rows: this.#pty.rows } }
      : {};
    const env = Object.keys(this.#env);
    const extra = {
      ...pty,
      ...(env.length > 0 ? { env } : {}),
      ...(this.#droppedEnv.length > 0 ? { droppedEnv: [...this.#droppedEnv] } : {}),
    };
    if (request.kind === 'exec') return { kind: 'exec', text: request.text, channel, ...extra };
    if (request.kind === 'sftp') return { kind: 'sftp', text: 'sftp subsystem', channel, ...extra };
    const term = this.#pty
      ? ` (${this.#pty.term} ${this.#pty.cols}x${this.#pty.rows})`
      : ' (no terminal)';
    return { kind: 'shell', text: `interactive shell${term}`, channel, ...extra };
  }

  async #run(
    client: ssh2.ServerChannel,
    request: Request,
    command: Command,
    commandId: string,
    t0: number,
  ): Promise<void> {
    // A shell is recorded with or without a terminal (`ssh -T host < script` is a script the
    // policy cannot read); a command only when it has a terminal.
    const interactive =
      request.kind === 'shell' || (request.kind === 'exec' && this.#pty !== undefined);
    if (interactive && this.#host.config.recording.enabled) {
      this.#recorder = await this.#openRecorder(command, commandId);
    }
    const upstream = await this.#host.upstream();
    const { channel: up, exit } = await openChannel(upstream, request, this.#pty, this.#env);
    this.#up = up;
    const files = (e: FileEvent) => this.#host.pipeline.onFileEvent(this.#host.ctx, commandId, e);
    const relay = relaySession(client, up, exit, this.#taps(request, files));
    this.#relay = relay;
    this.#recorder?.onError((err) => {
      this.#host.log.error('recording failed', { err });
      if (this.#host.config.recording.required) {
        this.terminate(
          new GatewayError('GW_SSH_RECORDING_FAILED', 'the session recording could not be written'),
        );
      }
    });
    const result = await relay.done;
    for (const a of this.#audits) a.end();
    await this.#closeRecorder(commandId);
    this.#result(commandId, t0, result, result.error);
  }

  #audits: { end(): void }[] = [];

  #taps(request: Request, files: (e: FileEvent) => void): RelayTaps {
    const rec = this.#recorder;
    const taps: RelayTaps = {};
    if (rec) {
      taps.fromServer = (c) => rec.output(c);
      taps.fromServerStderr = (c) => rec.output(c);
      taps.fromClient = (c) => rec.input(c);
    }
    if (request.kind === 'sftp') {
      const sftp = new SftpAudit(files);
      this.#audits.push(sftp);
      return {
        ...taps,
        fromClient: (c) => sftp.fromClient(c),
        fromServer: (c) => sftp.fromServer(c),
      };
    }
    if (request.kind === 'exec') {
      const analysis = analyzeShell(request.text);
      const mode = analysis.ok ? scpMode(analysis.invocations) : undefined;
      if (mode) {
        const scp = new ScpAudit(mode, files);
        this.#audits.push(scp);
        const key = mode.direction === 'upload' ? 'fromClient' : 'fromServer';
        const before = taps[key];
        taps[key] = (c) => {
          before?.(c);
          scp.push(c);
        };
      }
    }
    return taps;
  }

  async #openRecorder(command: Command, commandId: string): Promise<Recorder | undefined> {
    const h = this.#host;
    const pty = this.#pty ?? { term: 'dumb', cols: 80, rows: 24 };
    try {
      const rec = await Recorder.open({
        dir: h.recordingsDir,
        sessionId: h.ctx.id,
        name: `${this.#index}-${commandId}`,
        width: pty.cols || 80,
        height: pty.rows || 24,
        term: pty.term,
        title: `${h.ctx.connection?.name ?? ''}: ${h.scanner.redact(command.text).text}`.slice(
          0,
          200,
        ),
        input: h.config.recording.input,
        scanner: h.config.recording.mask ? h.scanner : undefined,
        holdBack: h.config.recording.hold_back_chars,
        maxBytes: h.config.recording.max_bytes,
        clock: h.clock,
      });
      return rec;
    } catch (err) {
      h.log.error('cannot open a recording', { err });
      if (h.config.recording.required) {
        throw new GatewayError(
          'GW_SSH_RECORDING_FAILED',
          'the session recording could not be started',
          {
            cause: err,
          },
        );
      }
      return undefined;
    }
  }

  async #closeRecorder(commandId: string): Promise<void> {
    const rec = this.#recorder;
    if (!rec) return;
    let summary: RecordingSummary;
    try {
      summary = await rec.close();
    } catch (err) {
      this.#host.log.error('recording could not be closed', { err });
      return;
    }
    await this.#host.pipeline.onRecorded(this.#host.ctx, commandId, {
      channel: this.#index,
      ...summary,
    });
  }

  #refuse(client: ssh2.ServerChannel, err: unknown): void {
    const ge = toGatewayError(err, this.#host.ctx.id);
    if (ge.kind === 'internal') this.#host.log.error('ssh channel failed', { err });
    else this.#host.log.info('ssh request refused', { code: ge.code });
    client.resume(); // drain what the client sent meanwhile, so the channel can close
    if (!client.writable) return;
    client.stderr.write(stderrLine(ge, this.#pty !== undefined));
    client.exit(exitStatusFor(ge));
    client.end();
  }

  #result(commandId: string, t0: number, r: RelayResult | undefined, err: unknown): void {
    const ge = err === undefined ? undefined : toGatewayError(err, this.#host.ctx.id);
    const failed =
      r?.exitSignal !== undefined || (r?.exitStatus !== undefined && r.exitStatus !== 0);
    const outcome: CommandResult['outcome'] =
      ge !== undefined ? 'error' : r?.outcome === 'aborted' ? 'aborted' : failed ? 'error' : 'ok';
    this.#host.pipeline.onResult(this.#host.ctx, commandId, {
      outcome,
      bytes: r?.bytesOut ?? 0,
      bytesIn: r?.bytesIn ?? 0,
      durationMs: this.#host.clock() - t0,
      ...(r?.exitStatus !== undefined ? { exitStatus: r.exitStatus } : {}),
      ...(r?.exitSignal !== undefined ? { exitSignal: r.exitSignal } : {}),
      ...(ge !== undefined ? { error: { code: ge.code, message: ge.clientMessage } } : {}),
    });
  }
}

/** Opens the same kind of channel upstream, with the client's terminal and allowed variables. */
function openChannel(
  upstream: ssh2.Client,
  request: Request,
  pty: Pty | undefined,
  env: Record<string, string>,
): Promise<{ channel: ssh2.ClientChannel; exit: ExitInfo }> {
  const window = pty && {
    term: pty.term,
    cols: pty.cols,
    rows: pty.rows,
    width: pty.width,
    height: pty.height,
    modes: pty.modes,
  };
  return new Promise((resolve, reject) => {
    const done = (err: Error | undefined, channel: ssh2.ClientChannel) => {
      if (err) {
        reject(
          new GatewayError(
            'GW_UPSTREAM_UNAVAILABLE',
            `the upstream refused the ${request.kind} request`,
            { cause: err },
          ),
        );
      } else resolve({ channel, exit: watchExit(channel) });
    };
    if (request.kind === 'sftp') upstream.subsys('sftp', done);
    else if (request.kind === 'shell') upstream.shell(window ?? false, { env }, done);
    else upstream.exec(request.text, { env, ...(window ? { pty: window } : {}) }, done);
  });
}
