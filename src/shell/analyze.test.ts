import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { analyzeShell, type ExecInvocation, trueExecFacts } from './analyze.ts';

/** `program argv... [via a>b] {facts}` per invocation. */
function runs(src: string): string[] {
  const r = analyzeShell(src);
  if (!r.ok) throw new Error(`unparsable: ${r.error}`);
  return r.invocations.map(describeInv);
}

function describeInv(i: ExecInvocation): string {
  const via = i.via.length > 0 ? ` [via ${i.via.join('>')}]` : '';
  const facts = trueExecFacts(i.facts);
  return `${i.argv.join(' ')}${via}${facts.length > 0 ? ` {${facts.join(',')}}` : ''}`;
}

function refused(src: string): string {
  const r = analyzeShell(src);
  assert.equal(r.ok, false, `${src} should not be analysable`);
  return r.ok ? '' : r.error;
}

describe('analyzeShell: wrappers are looked through', () => {
  test('sudo, with options, environment and -- ', () => {
    assert.deepEqual(runs('sudo -u root -E -- FOO=1 rm -rf /srv'), [
      'sudo -u root -E -- FOO=1 rm -rf /srv',
      'rm -rf /srv [via sudo] {privileged}',
    ]);
    assert.deepEqual(runs('sudo -i'), ['sudo -i {stdin_script}']);
    assert.deepEqual(runs('sudo -l'), ['sudo -l']);
    assert.deepEqual(runs('sudo -b reboot'), [
      'sudo -b reboot',
      'reboot [via sudo] {privileged,background}',
    ]);
  });

  test('sh -c scripts are parsed, through any depth of wrappers', () => {
    assert.deepEqual(runs(`sudo sh -c 'cd /x && rm -rf y; bash -lc "shutdown -h now"'`), [
      `sudo sh -c cd /x && rm -rf y; bash -lc "shutdown -h now"`,
      `sh -c cd /x && rm -rf y; bash -lc "shutdown -h now" [via sudo] {privileged}`,
      'cd /x [via sudo>sh] {privileged}',
      'rm -rf y [via sudo>sh] {privileged}',
      'bash -lc shutdown -h now [via sudo>sh] {privileged}',
      'shutdown -h now [via sudo>sh>bash] {privileged}',
    ]);
    assert.deepEqual(
      runs('bash -o pipefail -ec "kubectl delete ns x"').at(-1),
      'kubectl delete ns x [via bash]',
    );
  });

  test('env, nice, nohup, timeout, stdbuf, time, exec, command, builtin, setsid, ionice, chroot', () => {
    const last = (s: string) => runs(s).at(-1);
    assert.equal(last('env -i PATH=/tmp/evil ls'), 'ls [via env] {env_override}');
    assert.equal(last('env -S "rm -rf /x"'), 'rm -rf /x [via env]');
    assert.equal(last('nice -n 19 rm a'), 'rm a [via nice]');
    assert.equal(last('nice -5 rm a'), 'rm a [via nice]');
    assert.equal(last('nohup rm a'), 'rm a [via nohup] {background}');
    assert.equal(last('timeout -s KILL 5 rm a'), 'rm a [via timeout]');
    assert.equal(last('stdbuf -oL rm a'), 'rm a [via stdbuf]');
    assert.equal(last('/usr/bin/time -v rm a'), 'rm a [via time]');
    assert.equal(last('exec -a x rm a'), 'rm a [via exec]');
    assert.equal(last('command rm a'), 'rm a [via command]');
    assert.deepEqual(runs('command -v rm'), ['command -v rm']);
    assert.equal(last('builtin rm a'), 'rm a [via builtin]');
    assert.equal(last('setsid -f rm a'), 'rm a [via setsid] {background}');
    assert.equal(last('ionice -c3 rm a'), 'rm a [via ionice]');
    assert.equal(last('chroot /mnt rm a'), 'rm a [via chroot]');
    assert.equal(last('taskset -c 0 rm a'), 'rm a [via taskset]');
    assert.equal(last('flock /tmp/l -c "rm a"'), 'rm a [via flock]');
    assert.equal(last('busybox rm a'), 'rm a [via busybox]');
    assert.equal(last('script -qc "rm a" /dev/null'), 'rm a [via script]');
  });

  test('doas, su -c, pkexec and run0 are privileged', () => {
    assert.equal(runs('doas -u root rm a').at(-1), 'rm a [via doas] {privileged}');
    assert.equal(runs("su - root -c 'rm a'").at(-1), 'rm a [via su] {privileged}');
    assert.deepEqual(runs('su'), ['su {stdin_script}']);
    assert.equal(runs('pkexec rm a').at(-1), 'rm a [via pkexec] {privileged}');
    assert.equal(runs('run0 -u root rm a').at(-1), 'rm a [via run0] {privileged}');
  });

  test('xargs, find -exec and watch run commands', () => {
    assert.deepEqual(runs('ls | xargs -0 -n1 rm -f'), [
      'ls {pipeline}',
      'xargs -0 -n1 rm -f {pipeline}',
      'rm -f [via xargs] {pipeline,dynamic_args}',
    ]);
    assert.equal(runs('xargs').at(-1), 'echo [via xargs] {dynamic_args}');
    assert.deepEqual(runs("find . -name '*.tmp' -exec rm -f {} + -execdir shred {} \\;"), [
      'find . -name *.tmp -exec rm -f {} + -execdir shred {} ;',
      'rm -f {} [via find] {dynamic_args}',
      'shred {} [via find] {dynamic_args}',
    ]);
    assert.deepEqual(runs("watch -n1 'df; kill 1'").slice(1), [
      'df [via watch]',
      'kill 1 [via watch]',
    ]);
  });

  test('eval of literal text is parsed', () => {
    assert.deepEqual(runs("eval 'rm -rf /'"), ['eval rm -rf /', 'rm -rf / [via eval]']);
  });

  test('commands run elsewhere: ssh, kubectl exec, docker exec', () => {
    assert.deepEqual(runs("ssh -p 22 -i k host 'reboot; ls'"), [
      'ssh -p 22 -i k host reboot; ls',
      'reboot [via ssh] {remote}',
      'ls [via ssh] {remote}',
    ]);
    assert.deepEqual(runs('ssh host'), ['ssh host {stdin_script,remote}']);
    assert.equal(
      runs('kubectl -n x exec -it pod -- rm -rf /data').at(-1),
      'rm -rf /data [via kubectl] {remote}',
    );
    assert.deepEqual(runs('kubectl get pods'), ['kubectl get pods']);
    assert.equal(
      runs('docker exec -u 0 -it c sh -c "rm x"').at(-1),
      'rm x [via docker>sh] {remote}',
    );
  });

  test('interpreters: inline code and programs from standard input', () => {
    assert.deepEqual(runs('python3 -c "import os"'), ['python3 -c import os {inline_code}']);
    assert.deepEqual(runs('python3.12 script.py'), ['python3.12 script.py']);
    assert.deepEqual(runs('perl -pe s/a/b/ f'), ['perl -pe s/a/b/ f {inline_code}']);
    assert.deepEqual(runs("node -e 'x'"), ['node -e x {inline_code}']);
    assert.deepEqual(runs("awk '{print}' f"), ['awk {print} f {inline_code}']);
    assert.deepEqual(runs('awk -f prog.awk f'), ['awk -f prog.awk f']);
    assert.deepEqual(runs('curl -s https://x | sudo bash'), [
      'curl -s https://x {pipeline}',
      'sudo bash {pipeline}',
      'bash [via sudo] {privileged,pipeline,stdin_script}',
    ]);
    assert.deepEqual(runs('python3 - < script.py'), ['python3 - {stdin_script}']);
  });

  test('a literal here-document fed to a shell is parsed as the script it is', () => {
    assert.deepEqual(runs("sudo bash <<'EOF'\nsystemctl stop db\nEOF"), [
      'sudo bash',
      'bash [via sudo] {privileged}',
      'systemctl stop db [via sudo>bash] {privileged}',
    ]);
    assert.deepEqual(runs('bash <<< "rm -rf /"'), ['bash', 'rm -rf / [via bash]']);
    assert.deepEqual(runs('sh <<EOF\n$X\nEOF'), ['sh {stdin_script}']);
  });
});

describe('analyzeShell: facts', () => {
  test('pipelines, background, substitutions, function bodies', () => {
    assert.deepEqual(runs('a | b & f() { c; }; echo $(d)'), [
      'a {background,pipeline}',
      'b {background,pipeline}',
      'c {function_body}',
      'd {substitution}',
      'echo $(d) {dynamic_args}',
    ]);
  });

  test('writes_file for output redirections to files only', () => {
    assert.deepEqual(
      runs('a > f; b >> f; c 2>&1 >/dev/null; d &> f; e >&2; g 2>/dev/stderr; h >| f'),
      ['a {writes_file}', 'b {writes_file}', 'c', 'd {writes_file}', 'e', 'g', 'h {writes_file}'],
    );
    assert.deepEqual(
      runs('{ a; b; } > f').map((s) => s.endsWith('{writes_file}')),
      [true, true],
    );
  });

  test('env_override for variables that change what runs', () => {
    assert.deepEqual(
      runs('LD_PRELOAD=/x.so ls; PATH=/tmp ls; LANG=C ls; sudo BASH_ENV=/x bash x'),
      [
        'ls {env_override}',
        'ls {env_override}',
        'ls',
        'sudo BASH_ENV=/x bash x',
        'bash x [via sudo] {privileged,env_override}',
      ],
    );
  });

  test('dynamic arguments are recorded by index', () => {
    const r = analyzeShell('rm -rf "$DIR"/* /tmp/{a,b} literal');
    assert.ok(r.ok);
    assert.deepEqual(r.invocations[0]?.dynamic, [2, 3]);
    assert.deepEqual(r.invocations[0]?.argv, ['rm', '-rf', '"$DIR"/*', '/tmp/{a,b}', 'literal']);
  });

  test('quoting and escaping do not hide a program', () => {
    for (const src of [
      `r'm' -rf /`,
      `"rm" -rf /`,
      'r\\m -rf /',
      `$'\\x72\\x6d' -rf /`,
      '/bin/rm -rf /',
      '\\rm -rf /',
    ]) {
      const r = analyzeShell(src);
      assert.ok(r.ok, src);
      assert.equal(r.invocations[0]?.program, 'rm', src);
    }
  });
});

describe('analyzeShell: what cannot be known is refused', () => {
  test('a program named at run time', () => {
    assert.match(refused('$CMD -rf /'), /only known at run time/);
    assert.match(refused('{rm,-rf,/}'), /only known at run time/);
    assert.match(refused('/bin/r? -rf /'), /only known at run time/);
    assert.match(refused('$(echo rm) -rf /'), /only known at run time/);
    assert.match(refused('sudo $CMD'), /only known at run time/);
  });

  test('scripts built at run time', () => {
    assert.match(refused('sh -c "$1"'), /only known at run time/);
    assert.match(refused('eval "$X"'), /only known at run time/);
    assert.match(refused('eval rm "$X"'), /only known at run time/);
  });

  test('options of a wrapper it does not know', () => {
    assert.match(refused('sudo --definitely-not rm'), /unknown option/);
    assert.match(refused('env -Z ls'), /unknown option/);
    assert.match(refused('kubectl exec pod rm'), /without --/);
  });

  test('syntax errors, also inside sh -c', () => {
    assert.match(refused("echo 'x"), /shell syntax/);
    assert.match(refused(`sh -c "echo 'x"`), /nested script/);
  });
});
