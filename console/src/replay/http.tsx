// HTTP and LLM sessions: each request with its decision and outcome; LLM calls rendered as a
// conversation (the recorded messages or input, then the answer per choice, tool calls, usage).
// Everything shown comes from the ledger, already redacted there.
import { commandTimeline, Verdict } from './commands.tsx';
import type { CommandRecord, ReplayView } from './types.ts';

export const httpView: ReplayView = {
  title: 'Requests and conversations',
  render: commandTimeline(
    'Requests',
    (t) => t.startsWith('command.') || t.startsWith('llm.'),
    Request,
  ),
};

interface Message {
  readonly role: string;
  readonly text: string;
}

/** `content` as OpenAI and Anthropic send it: a string, or parts with `text`. */
function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((p) => {
        if (typeof p === 'string') return p;
        const part = p as { text?: unknown; type?: unknown };
        return typeof part.text === 'string' ? part.text : `[${String(part.type ?? 'part')}]`;
      })
      .join('\n');
  }
  return content === undefined || content === null ? '' : JSON.stringify(content);
}

/** The conversation the ledger kept of an LLM request (messages, prompt or input). */
export function messagesOf(record: Record<string, unknown> | undefined): Message[] {
  if (!record) return [];
  const out: Message[] = [];
  if (record.instructions !== undefined) {
    out.push({ role: 'instructions', text: textOf(record.instructions) });
  }
  if (record.system !== undefined) out.push({ role: 'system', text: textOf(record.system) });
  if (Array.isArray(record.messages)) {
    // The ledger keeps each message as `{ role, text }`; a provider's raw form has `content`.
    for (const m of record.messages as { role?: unknown; content?: unknown; text?: unknown }[]) {
      out.push({ role: String(m.role ?? 'message'), text: textOf(m.text ?? m.content) });
    }
  }
  for (const key of ['prompt', 'input'] as const) {
    const v = record[key];
    if (v === undefined) continue;
    const items = Array.isArray(v) ? v : [v];
    for (const item of items) {
      const m = item as { role?: unknown; content?: unknown };
      out.push(
        typeof item === 'object' && item !== null && 'content' in m
          ? { role: String(m.role ?? key), text: textOf(m.content) }
          : { role: key, text: textOf(item) },
      );
    }
  }
  return out;
}

interface Choice {
  readonly index: number;
  readonly text: string;
  readonly finishReason?: string;
  readonly toolCalls?: readonly { name: string; arguments: string }[];
}

function Request({ c }: { c: CommandRecord }) {
  const cmd = c.request.command as
    | {
        method?: string;
        url?: string;
        text?: string;
        // The request's record (messages, system, instructions, prompt or input) is kept in
        // `llm` itself, next to model and operation.
        llm?: { model?: string; operation?: string } & Record<string, unknown>;
      }
    | undefined;
  const o = c.outcome;
  const llm = o?.llm as
    | { choices?: Choice[]; usage?: { inputTokens: number; outputTokens: number } }
    | undefined;
  const err = o?.error as { code?: string; message?: string } | undefined;
  const messages = messagesOf(cmd?.llm);
  return (
    <div className="event">
      <Verdict c={c} />
      <pre className="sql">
        {cmd?.method ?? ''} {cmd?.url ?? cmd?.text ?? ''}
        {cmd?.llm ? `  (${cmd.llm.operation ?? 'llm'} · ${cmd.llm.model ?? '?'})` : ''}
      </pre>
      {messages.length > 0 && (
        <ol className="conversation" aria-label="Prompt">
          {messages.map((m, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: messages have no id; order is fixed
            <li key={i} className={`message ${m.role}`}>
              <strong>{m.role}</strong>
              <pre>{m.text}</pre>
            </li>
          ))}
        </ol>
      )}
      {llm?.choices && llm.choices.length > 0 && (
        <ol className="conversation" aria-label="Answer">
          {llm.choices.map((ch) => (
            <li key={ch.index} className="message assistant">
              <strong>
                assistant{llm.choices && llm.choices.length > 1 ? ` (choice ${ch.index})` : ''}
              </strong>
              <pre>{ch.text}</pre>
              {ch.toolCalls?.map((t, i) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: tool calls keep their order
                <pre key={i} className="tool-call">
                  tool call {t.name}({t.arguments})
                </pre>
              ))}
            </li>
          ))}
        </ol>
      )}
      <p className="outcome">
        {o
          ? `${String(o.outcome)}${err ? ` ${err.code ?? ''} ${err.message ?? ''}` : ''}${llm?.usage ? ` · tokens in ${llm.usage.inputTokens}, out ${llm.usage.outputTokens}` : ''} · ${String(o.durationMs ?? '–')} ms`
          : 'no outcome recorded'}
      </p>
    </div>
  );
}
