/**
 * A session's terminal recording (asciicast v2) for the console's player. The file is checked
 * against the SHA-256 the ledger holds for it (`session.recorded`) before a byte is sent: a
 * recording that was altered, deleted or moved is refused, never served as genuine. Same roles as
 * the session replay it belongs to.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { AuditEvent } from '../audit/types.ts';
import { GatewayError } from '../errors.ts';
import { RecordingAltered, RecordingTooLarge, readVerified } from '../recording/replay.ts';
import { AUDITORS, audit } from './ledger-routes.ts';
import type { ApiDeps, Call, Route } from './server.ts';

/** Larger recordings play with `airlock audit replay`: the browser holds a recording whole. */
export const MAX_RECORDING_BYTES = 64 * 1024 * 1024;

export const RECORDING_ROUTES: readonly Route[] = [
  {
    method: 'GET',
    path: /^\/v1\/audit\/sessions\/([A-Za-z0-9_-]{1,80})\/recording$/,
    roles: AUDITORS,
    handler: sessionRecording,
  },
];

/**
 * `?channel=N` picks the recording of one SSH channel (as `airlock audit replay --channel`);
 * without it, the session's first recording.
 */
async function sessionRecording(deps: ApiDeps, call: Call) {
  const { reader, config } = audit(deps);
  const id = call.params[0] as string;
  const channel = channelOf(call.query);
  const recorded = await reader.query({ sessionId: id, types: ['session.recorded'] });
  const e = recorded.find((r) => channel === undefined || r.data.channel === channel);
  if (!e) {
    const on = channel === undefined ? '' : ` on channel ${channel}`;
    throw new GatewayError('GW_RECORDING_UNKNOWN', `session ${id} has no terminal recording${on}`);
  }
  const text = await verified(deps, join(config.data_dir, 'recordings'), e);
  return {
    stream: async (_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(200, {
        'content-type': 'application/x-asciicast',
        'content-length': Buffer.byteLength(text),
        'content-disposition': `attachment; filename="${id}-${String(e.data.channel)}.cast"`,
        'x-content-type-options': 'nosniff',
        'cache-control': 'no-store',
        'x-airlock-recording-sha256': String(e.data.sha256),
      });
      res.end(text);
    },
  };
}

function channelOf(q: URLSearchParams): number | undefined {
  const v = q.get('channel');
  if (v === null) return undefined;
  if (!/^\d{1,6}$/.test(v)) throw new GatewayError('GW_PROTOCOL_MALFORMED', 'channel is a number');
  return Number(v);
}

/** The recording's text, or the GatewayError that says why it is not served. */
async function verified(deps: ApiDeps, dir: string, e: AuditEvent): Promise<string> {
  const file = String(e.data.file ?? '');
  try {
    return await readVerified(dir, file, String(e.data.sha256 ?? ''), {
      maxBytes: MAX_RECORDING_BYTES,
    });
  } catch (err) {
    if (err instanceof RecordingAltered) {
      deps.logger.warn('recording refused: it does not match the ledger', {
        session: e.sessionId,
        file,
        reason: err.message,
      });
      throw new GatewayError(
        'GW_RECORDING_ALTERED',
        `recording altered after it was recorded, not served: ${err.message}`,
      );
    }
    if (err instanceof RecordingTooLarge) {
      throw new GatewayError(
        'GW_RECORDING_TOO_LARGE',
        `${err.message}: play it with airlock audit replay ${e.sessionId ?? ''}`,
      );
    }
    throw err;
  }
}
