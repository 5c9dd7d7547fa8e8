/**
 * How a batch crosses from the main thread to the ledger's writer thread: one flat array of
 * strings, numbers and nulls. Structured clone rebuilds an object property by property on the
 * receiving side, which costs the writer thread more than sealing the event; a flat array costs a
 * fraction of that on both threads. Each item is a tag (`E` event, `C` checkpoint request, `R`
 * refused) followed by its fields.
 */

import type { PreparedEvent } from './event-codec.ts';
import type { SealItem } from './sealer.ts';

export type SealWire = (string | number | null)[];

/**
 * @example
 * const wire = encodeSealItems([prepareEvent(e), { checkpoint: true, time: Date.now() }]);
 * decodeSealItems(wire); // the same items
 */
export function encodeSealItems(items: readonly SealItem[]): SealWire {
  const wire: SealWire = [];
  for (const item of items) {
    if ('refused' in item) {
      wire.push('R', item.refused);
    } else if ('checkpoint' in item) {
      wire.push('C', item.time);
    } else {
      wire.push(
        'E',
        item.time,
        item.type,
        item.sessionId,
        item.connection,
        item.identity,
        item.owner,
        item.commandId,
        item.decision,
        item.tables,
        item.head,
        item.tail,
      );
    }
  }
  return wire;
}

/**
 * Reads what {@link encodeSealItems} wrote; throws on anything else.
 *
 * @example
 * const items = decodeSealItems(message.items);
 */
export function decodeSealItems(wire: readonly unknown[]): SealItem[] {
  const items: SealItem[] = [];
  let i = 0;
  const next = (): unknown => {
    if (i >= wire.length) throw new Error('the ledger batch is malformed');
    return wire[i++];
  };
  const str = (): string => {
    const v = next();
    if (typeof v !== 'string') throw new Error('the ledger batch is malformed');
    return v;
  };
  const num = (): number => {
    const v = next();
    if (typeof v !== 'number') throw new Error('the ledger batch is malformed');
    return v;
  };
  const opt = (): string | null => {
    const v = next();
    if (v !== null && typeof v !== 'string') throw new Error('the ledger batch is malformed');
    return v;
  };
  while (i < wire.length) {
    const tag = next();
    if (tag === 'R') items.push({ refused: str() });
    else if (tag === 'C') items.push({ checkpoint: true, time: num() });
    else if (tag === 'E') items.push(event(num, str, opt));
    else throw new Error('the ledger batch is malformed');
  }
  return items;
}

function event(num: () => number, str: () => string, opt: () => string | null): PreparedEvent {
  return {
    time: num(),
    type: str(),
    sessionId: opt(),
    connection: opt(),
    identity: opt(),
    owner: opt(),
    commandId: opt(),
    decision: opt(),
    tables: opt(),
    head: str(),
    tail: str(),
  };
}
