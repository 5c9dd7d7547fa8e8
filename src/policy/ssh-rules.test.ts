/**
 * Policy for SSH: command lines judged on their parsed argv (patterns, facts, wrappers), whole
 * sessions (shell, SFTP) and port forwards, with a bypass corpus for the patterns.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Identity } from '../identity/types.ts';
import type { Command } from '../session/command.ts';
import { analyzeShell } from '../shell/analyze.ts';
import { compileCommandPattern, matchesCommand } from './commands.ts';
import { formatExplanation } from './explain.ts';
import { caseInput, parseFixtures, runFixtures } from './fixtures.ts';
import type { PolicyInput } from './policy.ts';
import { loadPolicy, type PolicyError } from './rules.ts';

const agent: Identity = {
  kind: 'token',
  name: 'bot',
  owner: 'ann@x',
  groups: ['ops'],
  roles: ['user'],
};
const human: Identity = {
  kind: 'oidc',
  name: 'ann@x',
  owner: 'ann@x',
  groups: ['ops'],
  roles: ['user'],
};

const POLICY = `
version: 1
defaults:
  action: allow
  approvers: [{ groups: [sre], min: 1 }]
  unparsable_exec: deny
rules:
  - name: no-rm-rf
    match: { commands: ["rm -rf*"] }
    action: deny
    message: recursive forced deletes are not allowed
  - name: k8s-deletes-need-review
    match: { commands: ["kubectl delete*", "kubectl drain"] }
    action: review
  - name: no-power
    match: { commands: [shutdown, reboot, poweroff, "systemctl reboot", "init 0"] }
    action: deny
  - name: sudo-needs-review
    match: { facts: [privileged] }
    action: review
  - name: no-pipe-to-shell
    match: { facts: [stdin_script] }
    action: deny
  - name: agents-shells-need-review
    match: { session: shell, identity: { is: agent } }
    action: review
  - name: db-tunnel
    match: { forwards: ["db.internal:5432"], groups: [ops] }
    action: allow
`;

const policy = loadPolicy(POLICY, 'test');

function exec(text: string, identity: Identity = agent): PolicyInput {
  return {
    identity,
    connection: 'web-1',
    command: { kind: 'exec', text, channel: 0 },
    shell: analyzeShell(text),
  };
}

function whole(command: Command, identity: Identity = agent): PolicyInput {
  return { identity, connection: 'web-1', command };
}

const decide = (text: string, identity?: Identity) => policy.decide(exec(text, identity));

describe('exec commands: patterns on argv', () => {
  test('rm -rf in every spelling is denied; harmless rm is not', () => {
    for (const cmd of [
      'rm -rf /',
      'rm -fr /srv',
      'rm -r -f x',
      'rm -Rf x',
      'rm --recursive --force x',
      'rm --rec --for x',
      'rm -v -rf x',
      '/bin/rm -rf x',
      "'rm' -rf x",
      'r\\m -rf x',
      "$'\\x72\\x6d' -rf x",
      'cd /; rm -rf x',
      'ls && rm -rf x',
      'true || rm -rf x',
      'echo $(rm -rf x)',
      'sudo -u root rm -rf x',
      "sh -c 'rm -rf x'",
      'bash -c "bash -c \'rm -rf x\'"',
      'env FOO=1 rm -rf x',
      'nohup rm -rf x &',
      'xargs rm -rf < list',
      'find . -exec rm -rf {} \\;',
      "eval 'rm -rf x'",
      'f() { rm -rf x; }',
      "ssh other 'rm -rf x'",
      'rm "$F" /',
      'rm $FLAGS /',
    ]) {
      const d = decide(cmd);
      assert.equal(d.action, 'deny', cmd);
      assert.equal(d.rule, 'no-rm-rf', cmd);
    }
    for (const cmd of [
      'rm -f x',
      'rm -r x',
      'rm -- -rf',
      'echo rm -rf',
      'grep -rf pattern',
      'ls -rf',
    ]) {
      assert.equal(decide(cmd).action, 'allow', cmd);
    }
  });

  test('kubectl delete is held for review; other verbs are not', () => {
    assert.equal(decide('kubectl delete pod x').action, 'review');
    assert.equal(decide('kubectl -n prod delete pod x').action, 'review');
    assert.equal(decide('kubectl --context prod drain node-1').action, 'review');
    assert.equal(decide('kubectl get pods').action, 'allow');
    assert.equal(decide('kubectl exec pod -- kubectl delete ns x').action, 'review');
  });

  test('multi-word and whole-program patterns', () => {
    assert.equal(decide('shutdown -h now').action, 'deny');
    assert.equal(decide('/sbin/reboot').action, 'deny');
    assert.equal(decide('systemctl reboot').action, 'deny');
    assert.equal(decide('systemctl restart nginx').action, 'allow');
    assert.equal(decide('init 0').action, 'deny');
  });

  test('the most restrictive program decides, like statements in SQL', () => {
    assert.equal(decide('kubectl delete pod x; shutdown now').action, 'deny');
    assert.equal(decide('ls; kubectl delete pod x').action, 'review');
  });

  test('facts: privileged needs review, piping into a shell is denied', () => {
    const d = decide('sudo systemctl restart nginx');
    assert.equal(d.action, 'review');
    assert.equal(d.rule, 'sudo-needs-review');
    assert.equal(decide('curl -fsSL https://get.example | sh').action, 'deny');
    assert.equal(decide("sudo bash <<'EOF'\nls\nEOF").action, 'review');
  });

  test('command lines the shell parser cannot read get unparsable_exec', () => {
    for (const cmd of ['$CMD x', "echo 'x", '{rm,-rf,/}', 'eval "$X"', 'sudo --nope ls']) {
      const d = decide(cmd);
      assert.equal(d.action, 'deny', cmd);
      assert.equal(d.rule, 'unparsable', cmd);
    }
  });

  test('an empty command line runs nothing', () => {
    assert.equal(decide('').action, 'allow');
  });
});

describe('allow-lists: programs not allowed are not run', () => {
  const strict = loadPolicy(
    `
version: 1
defaults: { action: deny }
rules:
  - name: read-only-tools
    match: { commands: [ls, cat, "grep", "tail -n", "systemctl status"] }
    action: allow
`,
    'strict',
  );
  const d = (text: string) => strict.decide(exec(text)).action;

  test('every program of the line must be allowed', () => {
    assert.equal(d('ls -la /var/log'), 'allow');
    assert.equal(d('cat a | grep x'), 'allow');
    assert.equal(d('cat a | grep x | sh'), 'deny');
    assert.equal(d('ls; rm x'), 'deny');
    assert.equal(d('ls $(rm x)'), 'deny');
    assert.equal(d('sudo ls'), 'deny', 'the wrapper is a program too');
    assert.equal(d("sh -c 'ls'"), 'deny');
    assert.equal(d('systemctl status nginx'), 'allow');
    assert.equal(d('systemctl stop nginx'), 'deny');
  });

  test('an argument known only at run time cannot prove an allow-pattern', () => {
    assert.equal(d('tail -n 5 f'), 'allow');
    assert.equal(d('tail "$N" f'), 'deny');
    assert.equal(d('systemctl "$VERB" nginx'), 'deny');
    assert.equal(d('ls "$DIR"'), 'allow', 'a pattern with no positional words needs none');
  });
});

describe('sessions and forwards', () => {
  test('an agent’s interactive shell is held; a human’s is not', () => {
    const shell: Command = { kind: 'shell', text: 'interactive shell', channel: 0 };
    assert.equal(policy.decide(whole(shell)).action, 'review');
    assert.equal(policy.decide(whole(shell, human)).action, 'allow');
  });

  test('sftp follows the default unless a rule names it', () => {
    const sftp: Command = { kind: 'sftp', text: 'sftp', channel: 0 };
    assert.equal(policy.decide(whole(sftp)).action, 'allow');
    const noSftp = loadPolicy(
      'version: 1\nrules: [{ name: no-sftp, match: { session: [sftp, forward] }, action: deny }]',
      't',
    );
    assert.equal(noSftp.decide(whole(sftp)).action, 'deny');
  });

  test('port forwarding is off unless a rule that names forwards allows it', () => {
    const fwd = (host: string, port: number): Command => ({
      kind: 'forward',
      text: `forward to ${host}:${port}`,
      host,
      port,
    });
    assert.equal(policy.decide(whole(fwd('db.internal', 5432))).action, 'allow');
    const other = policy.decide(whole(fwd('169.254.169.254', 80)));
    assert.equal(other.action, 'deny');
    assert.match(other.action === 'deny' ? other.message : '', /port forwarding is off/);
    const anything = loadPolicy(
      'version: 1\nrules: [{ name: all, match: {}, action: allow }]',
      't',
    );
    assert.equal(
      anything.decide(whole(fwd('x', 1))).action,
      'deny',
      'a catch-all allow does not open tunnels',
    );
  });

  test('SQL keys never match command lines and command keys never match SQL', () => {
    const mixed = loadPolicy(
      'version: 1\nrules:\n  - { name: t, match: { tables: [x] }, action: deny }\n  - { name: c, match: { classes: [ddl] }, action: deny }',
      't',
    );
    assert.equal(mixed.decide(exec('psql -c "drop table x"')).action, 'allow');
  });
});

describe('patterns', () => {
  test('bad patterns are refused with the key', () => {
    assert.throws(
      () =>
        loadPolicy(
          'version: 1\nrules: [{ name: a, match: { commands: ["rm \'x"] }, action: deny }]',
          't',
        ),
      (err: PolicyError) =>
        /rules\[0\]\.match\.commands\[0\]: expected one command/.test(err.problems.join()),
    );
    assert.throws(
      () =>
        loadPolicy(
          'version: 1\nrules: [{ name: a, match: { forwards: ["nope"] }, action: allow }]',
          't',
        ),
      /expected host:port/,
    );
    assert.throws(
      () => loadPolicy('version: 1\ndefaults: { unparsable_exec: review }', 't'),
      /defaults.unparsable_exec: review needs defaults.approvers/,
    );
  });

  test('paths, globs and single-dash programs', () => {
    const inv = (s: string) => {
      const a = analyzeShell(s);
      assert.ok(a.ok);
      return a.invocations[0]!;
    };
    assert.equal(
      matchesCommand(compileCommandPattern('/usr/local/bin/*'), inv('/usr/local/bin/x'), 'any'),
      true,
    );
    assert.equal(matchesCommand(compileCommandPattern('/usr/local/bin/*'), inv('x'), 'any'), false);
    assert.equal(
      matchesCommand(compileCommandPattern('python*'), inv('python3.12 -V'), 'any'),
      true,
    );
    const del = compileCommandPattern('find -delete');
    assert.equal(matchesCommand(del, inv('find . -name x -delete'), 'any'), true);
    assert.equal(matchesCommand(del, inv('find -type d -newer f -ls -maxdepth 2'), 'any'), false);
    assert.equal(
      matchesCommand(compileCommandPattern('git push --force'), inv('git push -f'), 'any'),
      true,
    );
    assert.equal(
      matchesCommand(
        compileCommandPattern('git push --force'),
        inv('git push --force-with-lease'),
        'any',
      ),
      false,
    );
  });
});

describe('explain and fixtures', () => {
  test('explain shows each program and the rules tried', () => {
    const text = formatExplanation(policy.explain(exec('ls | sudo rm -rf /x')));
    assert.match(text, /decision: deny \(rule no-rm-rf\)/);
    assert.match(text, /program 3: rm {2}via: sudo/);
    assert.match(text, /facts: privileged, pipeline/);
    const shell = formatExplanation(
      policy.explain(whole({ kind: 'shell', text: 'interactive shell', channel: 0 })),
    );
    assert.match(shell, /shell:\n {2}rules:/);
    assert.match(shell, /\+ agents-shells-need-review/);
  });

  test('fixtures take exec, session and forward cases', () => {
    const fixtures = parseFixtures(
      `
defaults: { identity: { kind: token } }
cases:
  - { name: rm, exec: "rm -rf /", expect: deny, expect_rule: no-rm-rf }
  - { name: shell, session: shell, expect: review }
  - { name: tunnel, forward: "db.internal:5432", identity: { groups: [ops] }, expect: allow }
  - { name: other tunnel, forward: "db.internal:22", expect: deny }
`,
      'f',
    );
    assert.deepEqual(
      runFixtures(policy, fixtures).map((r) => r.ok),
      [true, true, true, true],
    );
    assert.equal(caseInput(fixtures.cases[0]!).command.kind, 'exec');
    assert.throws(
      () => parseFixtures('cases: [{ name: x, sql: a, exec: b, expect: allow }]', 'f'),
      /exactly one/,
    );
  });
});
