/**
 * `airlock audit query --caused-by <event id>`: an LLM call (its prompt and response) and every
 * command that names it as its cause — statements on database sessions, HTTP requests, further
 * LLM calls — and, recursively, what those caused. How an auditor answers "which prompt produced
 * this change?".
 */
import { reviewOutcomeText } from '../../audit/review-outcome.ts';
import type { LedgerReader } from '../../audit/store.ts';
import type { CommandRecord } from '../../audit/types.ts';
import { out } from '../args.ts';

/** How deep the chain is followed (an agent loop of LLM calls can go on). */
const MAX_DEPTH = 6;
const MAX_NODES = 2000;

interface Node {
  readonly depth: number;
  readonly record: CommandRecord;
  /** The cause's owner differs: the link is a claim by someone else. */
  readonly foreignClaim: boolean;
}

/**
 * @example
 * await causedByChain(reader, 'c_0194…', false); // prints the tree, returns the exit code
 */
export async function causedByChain(
  reader: LedgerReader,
  id: string,
  json: boolean,
): Promise<number> {
  const [root] = await reader.commands({ commandId: id, limit: 1 });
  if (root === undefined) {
    process.stderr.write(`no LLM call or command ${id} in the ledger\n`);
    return 1;
  }
  const nodes: Node[] = [{ depth: 0, record: root, foreignClaim: false }];
  await follow(reader, root, 1, nodes, new Set([id]));
  if (json) {
    out(JSON.stringify({ root, caused: nodes.slice(1) }));
    return 0;
  }
  for (const n of nodes) out(nodeLines(n).join('\n'));
  if (nodes.length === 1)
    process.stderr.write('nothing in the ledger names this event as its cause\n');
  return 0;
}

async function follow(
  reader: LedgerReader,
  cause: CommandRecord,
  depth: number,
  nodes: Node[],
  seen: Set<string>,
): Promise<void> {
  if (depth > MAX_DEPTH || nodes.length >= MAX_NODES) return;
  const since = Date.parse(cause.ts);
  const caused = await reader.commands({ causedBy: cause.commandId, since, limit: MAX_NODES });
  for (const r of caused) {
    if (seen.has(r.commandId) || nodes.length >= MAX_NODES) continue;
    seen.add(r.commandId);
    const owner = (x: CommandRecord) => x.actor?.owner?.toLowerCase();
    nodes.push({ depth, record: r, foreignClaim: owner(r) !== owner(cause) });
    if (r.type === 'llm.requested') await follow(reader, r, depth + 1, nodes, seen);
  }
}

function nodeLines(n: Node): string[] {
  const r = n.record;
  const pad = '  '.repeat(n.depth) + (n.depth > 0 ? '└ ' : '');
  const who = r.actor
    ? `${r.actor.identity}${r.actor.owner ? ` (owner ${r.actor.owner})` : ''}`
    : '-';
  const claim = n.foreignClaim ? '  [cause claimed by another owner]' : '';
  const head = `${pad}${r.commandId}  ${r.ts}  ${r.type === 'llm.requested' ? 'llm' : 'command'}  ${r.connection ?? '-'}  ${who}  [${String(r.request.decision ?? '')}${approvalOf(r)}] [${resultOf(r)}]${claim}`;
  const lines = [head, `${' '.repeat(pad.length)}  ${commandSummary(r.request)}`];
  const answer = responseText(r);
  if (answer) lines.push(`${' '.repeat(pad.length)}  → ${answer}`);
  return lines;
}

function approvalOf(r: CommandRecord): string {
  if (!r.approval) return '';
  return ` ${reviewOutcomeText(r.approval.type === 'command.approved', r.approval.data)}`;
}

function resultOf(r: CommandRecord): string {
  const o = r.outcome;
  if (!o) return 'pending';
  const err = o.error ? ` ${(o.error as { code: string }).code}` : '';
  const usage = (o.llm as { usage?: { totalTokens?: number } } | undefined)?.usage?.totalTokens;
  const size = o.status !== undefined ? `status=${String(o.status)}` : `rows=${String(o.rows)}`;
  return `${String(o.outcome)}${err} ${size}${usage !== undefined ? ` tokens=${usage}` : ''}`;
}

function responseText(r: CommandRecord): string {
  const choices = (
    r.outcome?.llm as
      | { choices?: { text?: string; toolCalls?: { name: string; arguments: string }[] }[] }
      | undefined
  )?.choices;
  const c = choices?.[0];
  if (!c) return '';
  const calls = (c.toolCalls ?? []).map((t) => `${t.name}(${t.arguments})`).join(' ');
  return oneLine(`${c.text ?? ''} ${calls}`.trim(), 200);
}

/**
 * One line for a command: the SQL text, or the HTTP/LLM summary.
 *
 * @example
 * commandSummary({ command: { kind: 'sql', text: 'SELECT\n 1' } }); // 'SELECT 1'
 */
export function commandSummary(data: Readonly<Record<string, unknown>>): string {
  const text = (data.command as { text?: unknown } | undefined)?.text;
  return oneLine(String(text ?? ''), 200);
}

function oneLine(s: string, max: number): string {
  const t = s.replace(/\s+/g, ' ');
  return t.length > max ? `${t.slice(0, max)}…` : t;
}
