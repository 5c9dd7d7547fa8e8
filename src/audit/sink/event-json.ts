/**
 * The shapes sinks put on the wire: the ledger event as JSON, or as OCSF.
 */
import { toOcsf } from '../ocsf.ts';
import type { AuditEvent } from '../types.ts';

export type SinkFormat = 'json' | 'ocsf';

/**
 * The event for export: every field, with its chain hashes, but without `body` (the canonical
 * JSON those fields were hashed from; `airlock audit verify` checks the chain at the source).
 *
 * @example
 * JSON.stringify(exportedEvent(event)); // {"seq":1,"ts":"...","type":"session.started",...}
 */
export function exportedEvent(e: AuditEvent): Record<string, unknown> {
  return {
    seq: e.seq,
    ts: e.ts,
    type: e.type,
    sessionId: e.sessionId,
    connection: e.connection,
    actor: e.actor,
    clientAddr: e.clientAddr,
    commandId: e.commandId,
    data: e.data,
    leafHash: e.leafHash,
    prevHash: e.prevHash,
    hash: e.hash,
  };
}

/**
 * The object a sink sends for one event in `format`. OCSF carries `{ seq, hash }` in
 * `unmapped.airlock`, so a SIEM can tie it back to the ledger.
 *
 * @example
 * formatEvent(event, 'ocsf').class_uid; // 3002 for session.started
 */
export function formatEvent(e: AuditEvent, format: SinkFormat): Record<string, unknown> {
  return format === 'ocsf' ? toOcsf(e, { seq: e.seq, hash: e.hash }) : exportedEvent(e);
}

/**
 * JSON with every non-ASCII code unit written as `\uXXXX`: still the same JSON value, but plain
 * ASCII on the wire, which keeps syslog MSG free of the UTF-8 BOM rule (RFC 5424 §6.4).
 *
 * @example
 * asciiJson({ name: 'é' }); // '{"name":"\\u00e9"}'
 */
export function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
