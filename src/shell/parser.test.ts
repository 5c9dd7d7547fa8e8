// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are shell source text, where ${...} is parameter expansion
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parseShell, SHELL_LIMITS } from './parser.ts';
import type { SimpleCommand } from './types.ts';

/** Each command as `word word ...`, dynamic words in angle brackets. */
function shape(src: string): string[] {
  const r = parseShell(src);
  if (!r.ok) throw new Error(`${r.error} at ${r.offset}`);
  return r.commands.map(show);
}

function show(c: SimpleCommand): string {
  return c.words.map((w) => (w.literal ? w.value : `<${w.raw}>`)).join(' ');
}

function only(src: string): SimpleCommand {
  const r = parseShell(src);
  assert.ok(r.ok, src);
  assert.equal(r.commands.length, 1, src);
  return r.commands[0] as SimpleCommand;
}

describe('parseShell: words', () => {
  test('quotes and escapes are removed as the shell does', () => {
    assert.deepEqual(shape(`r'm' "-"rf \\/ $'\\x2d\\x72'`), ['rm -rf / -r']);
    assert.deepEqual(shape('echo "a \\"b\\" \\$HOME" \'c\\\''), ['echo a "b" $HOME c\\']);
    assert.deepEqual(shape('ec\\\nho hi'), ['echo hi']);
    assert.deepEqual(shape(`echo $'it\\'s' $'\\u00e9\\t'`), ["echo it's é\t"]);
  });

  test('expansions make a word dynamic; the text stays', () => {
    const c = only('rm -rf "$DIR"/x ${A:-b} $1 $((1+2))');
    assert.deepEqual(
      c.words.map((w) => [w.raw, w.literal]),
      [
        ['rm', true],
        ['-rf', true],
        ['"$DIR"/x', false],
        ['${A:-b}', false],
        ['$1', false],
        ['$((1+2))', false],
      ],
    );
    assert.equal(only('echo "$"').words[1]?.literal, true, 'a lone $ is literal');
  });

  test('globs and brace expansion are flagged; a lone [ is the test command', () => {
    const c = only('ls *.log a? [ab] {x,y} {1..3} {} [');
    assert.deepEqual(
      c.words.map((w) => [w.raw, w.glob, w.brace]),
      [
        ['ls', false, false],
        ['*.log', true, false],
        ['a?', true, false],
        ['[ab]', true, false],
        ['{x,y}', false, true],
        ['{1..3}', false, true],
        ['{}', false, false],
        ['[', false, false],
      ],
    );
    assert.equal(only("ls '*'").words[1]?.glob, false, 'quoted globs are literal');
  });
});

describe('parseShell: structure', () => {
  test('lists, pipelines and background jobs', () => {
    const r = parseShell('a | b |& c; d && e || f & g');
    assert.ok(r.ok);
    assert.deepEqual(
      r.commands.map((c) => [show(c), c.pipeline, c.pipedInput, c.background]),
      [
        ['a', true, false, false],
        ['b', true, true, false],
        ['c', true, true, false],
        ['d', false, false, true],
        ['e', false, false, true],
        ['f', false, false, true],
        ['g', false, false, false],
      ],
    );
  });

  test('substitutions run before their command and are marked', () => {
    const r = parseShell('echo $(id -u) `uname` <(ls /) "$(date)" ${X:-$(hostname)}');
    assert.ok(r.ok);
    assert.deepEqual(
      r.commands.map((c) => [show(c), c.substitution]),
      [
        ['id -u', true],
        ['uname', true],
        ['ls /', true],
        ['date', true],
        ['hostname', true],
        ['echo <$(id -u)> <`uname`> <<(ls /)> <"$(date)"> <${X:-$(hostname)}>', false],
      ],
    );
  });

  test('control structures: commands in every branch and body, never their keywords', () => {
    const src = `
      if test -f x; then rm x; elif true; then :; else echo no; fi
      while read l; do echo "$l"; done < in
      until false; do break; done
      for f in $(ls); do gzip "$f"; done
      for ((i=0; i<3; i++)); do echo $i; done
      case "$1" in start|up) systemctl start x;; (stop) systemctl stop x;& *) echo ?;; esac
      { a; b; } > out
      (cd /tmp && rm -rf y)
      [[ -n $(whoami) && $x < 3 ]] && echo ok
      (( n += $(nproc) ))
      ! grep -q x f
      time -p sleep 1
    `;
    assert.deepEqual(shape(src), [
      'test -f x',
      'rm x',
      'true',
      ':',
      'echo no',
      'read l',
      'echo <"$l">',
      'false',
      'break',
      'ls',
      'gzip <"$f">',
      'echo <$i>',
      'systemctl start x',
      'systemctl stop x',
      'echo ?',
      'a',
      'b',
      'cd /tmp',
      'rm -rf y',
      'whoami',
      'echo ok',
      'nproc',
      'grep -q x f',
      'sleep 1',
    ]);
  });

  test('function bodies are commands that may run', () => {
    const r = parseShell('f() { rm -rf /; }; function g { shutdown now; }; function h() (x); f');
    assert.ok(r.ok);
    assert.deepEqual(
      r.commands.map((c) => [show(c), c.functionBody]),
      [
        ['rm -rf /', true],
        ['shutdown now', true],
        ['x', true],
        ['f', false],
      ],
    );
  });

  test('assignments and redirections are not arguments', () => {
    const c = only(
      'A=1 B=$x arr=(a b) LD_PRELOAD=/evil.so cmd arg 2>&1 >>log <in 3<>f &>/dev/null',
    );
    assert.deepEqual(c.assignments, ['A', 'B', 'arr', 'LD_PRELOAD']);
    assert.deepEqual(
      c.words.map((w) => w.value),
      ['cmd', 'arg'],
    );
    assert.deepEqual(
      c.redirects.map((r) => [r.fd, r.op, r.target.value]),
      [
        [2, '>&', '1'],
        [undefined, '>>', 'log'],
        [undefined, '<', 'in'],
        [3, '<>', 'f'],
        [undefined, '&>', '/dev/null'],
      ],
    );
    assert.deepEqual(shape('X=1'), [], 'an assignment alone runs nothing');
  });

  test('here-documents and here-strings feed standard input', () => {
    const r = parseShell(
      "bash <<'EOF'\nrm -rf $HOME\nEOF\ncat <<-X <<<'s'\n\tline $(id)\n\tX\necho after",
    );
    assert.ok(r.ok);
    assert.deepEqual(r.commands.map(show), ['bash', 'id', 'cat', 'echo after']);
    assert.deepEqual(r.commands[0]?.stdin, [{ text: 'rm -rf $HOME\n', literal: true }]);
    assert.deepEqual(r.commands[2]?.stdin, [
      { text: 's', literal: true },
      { text: 'line $(id)\n', literal: false },
    ]);
  });

  test('comments end at the newline; # inside a word is a character', () => {
    assert.deepEqual(shape('echo a#b # rm -rf /\nls'), ['echo a#b', 'ls']);
  });

  test('reserved words only count in command position and unquoted', () => {
    assert.deepEqual(shape('echo if then fi; "if" x'), ['echo if then fi', 'if x']);
  });
});

describe('parseShell: refusals', () => {
  for (const [name, src] of [
    ['unterminated single quote', "echo 'x"],
    ['unterminated double quote', 'echo "x'],
    ['unterminated substitution', 'echo $(ls'],
    ['unterminated backquote', 'echo `ls'],
    ['unterminated ${', 'echo ${x'],
    ['unclosed if', 'if true; then ls'],
    ['unclosed group', '{ ls;'],
    ['stray fi', 'fi'],
    ['stray )', 'ls )'],
    ['coproc', 'coproc cat'],
    ['missing redirect target', 'ls >'],
    ['NUL byte', 'ls\0rm'],
    [';; outside case', 'ls ;; rm'],
  ] as const) {
    test(name, () => assert.equal(parseShell(src).ok, false));
  }

  test('deep nesting and huge input are refused, not crashed', () => {
    const deep = `${'$('.repeat(SHELL_LIMITS.maxDepth + 5)}x${')'.repeat(SHELL_LIMITS.maxDepth + 5)}`;
    const r = parseShell(deep);
    assert.equal(r.ok, false);
    assert.equal(parseShell('x'.repeat(SHELL_LIMITS.maxInput + 1)).ok, false);
  });

  test('arbitrary input never throws', () => {
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.constantFrom(...'ab $(){}[]<>|&;\'"`\\\n#=*-!'.split('')),
          maxLength: 60,
        }),
        (s) => {
          parseShell(s);
        },
      ),
      { numRuns: 3000 },
    );
  });
});
