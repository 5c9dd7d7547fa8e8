/**
 * Provenance end to end: an LLM response's event id, passed back by the agent in its database
 * session's application_name, in a SQL comment, and in the header of its next LLM call, links
 * prompt → response → statements; `airlock audit query --caused-by` shows the chain.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import OpenAI from 'openai';
import pg from 'pg';
import { airlockCli, gatewayClient } from '../helpers/gateway-process.ts';
import { type LlmUpstream, startLlmUpstream } from '../helpers/llm-upstream.ts';
import { startStack } from '../helpers/stack.ts';

function yaml(pgPort: number, upstream: LlmUpstream): string {
  return `
listen:
  postgres: 127.0.0.1:0
  http: 127.0.0.1:0
audit:
  sync: normal
connections:
  - name: clinic
    type: postgres
    host: 127.0.0.1
    port: ${pgPort}
    database: clinic
    user: clinic_app
    password: \${env:CLINIC_DB_PASSWORD}
    ssl: require
  - name: openai
    type: llm
    url: ${upstream.url}/v1
    default: true
`;
}

describe('provenance: prompt → response → statements', () => {
  it('links statements and follow-up calls to the LLM response that caused them', async () => {
    await using upstream = await startLlmUpstream();
    await using stack = await startStack({ yaml: ({ pgPort }) => yaml(pgPort, upstream) });
    upstream.reply = { chunks: ["UPDATE visits SET notes = 'reviewed' WHERE id = 1;"] };
    const base = `http://127.0.0.1:${stack.gw.addresses.http?.port}/v1`;
    const client = new OpenAI({ baseURL: base, apiKey: stack.token, maxRetries: 0 });
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'write the migration' }] })
      .withResponse();
    const id = response.headers.get('x-airlock-event-id') ?? '';
    assert.match(id, /^c_[0-9a-f]{30}$/);
    assert.match(data.choices[0]?.message.content ?? '', /^UPDATE visits/);

    const db = gatewayClient(stack.port, stack.token);
    const pgWithApp = new pg.Client({
      host: '127.0.0.1',
      port: stack.port,
      user: 'agent',
      password: stack.token,
      database: 'clinic',
      ssl: { rejectUnauthorized: false },
      application_name: `migrator caused-by=${id}`,
    });
    await pgWithApp.connect();
    await pgWithApp.query("UPDATE visits SET notes = 'reviewed' WHERE id = 1");
    await pgWithApp.end();
    await db.connect();
    await db.query(`/* airlock:caused-by=${id} */ SELECT count(*) FROM visits`);
    await db.query('SELECT 1');
    await db.end();
    await client.chat.completions.create(
      { model: 'gpt-4o', messages: [{ role: 'user', content: 'did it work?' }] },
      { headers: { 'x-airlock-caused-by': id } },
    );
    await new Promise((r) => setTimeout(r, 100));

    const caused = await stack.gw.ledger.commands({ causedBy: id });
    assert.deepEqual(
      caused.map((c) => [
        c.type,
        String((c.request.command as { text: string }).text).slice(0, 30),
      ]),
      [
        ['command.requested', "UPDATE visits SET notes = 'rev"],
        ['command.requested', `/* airlock:caused-by=${id.slice(0, 9)}`],
        ['llm.requested', 'POST /chat/completions model=g'],
      ],
    );

    const configFile = join(stack.dataDir, 'cli.yaml');
    writeFileSync(configFile, `data_dir: ${stack.dataDir}\naudit: { sync: normal }\n`);
    const r = await airlockCli(['audit', 'query', '--caused-by', id, '--config', configFile]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.match(
      lines[0] ?? '',
      new RegExp(
        `^${id}  .*  llm  openai  ci-agent \\(owner olivia.owner@example.com\\)  \\[allow\\] \\[ok status=200 tokens=18\\]`,
      ),
    );
    assert.match(r.stdout, /→ UPDATE visits SET notes = 'reviewed'/);
    assert.match(
      r.stdout,
      /└ c_[0-9a-f]{30} .* command {2}clinic .*\[allow\] \[ok rows=\d+\]\n\s+UPDATE visits/,
    );
    assert.match(
      r.stdout,
      /└ c_[0-9a-f]{30} .* llm {2}openai .*\n\s+POST \/chat\/completions model=gpt-4o: did it work\?/,
    );
    const j = await airlockCli([
      'audit',
      'query',
      '--caused-by',
      id,
      '--json',
      '--config',
      configFile,
    ]);
    const parsed = JSON.parse(j.stdout);
    assert.equal(parsed.root.commandId, id);
    assert.equal(parsed.caused.length, 3);
  });
});
