/**
 * Hostile input: 100 KB values built to make a backtracking regex or a quadratic walk blow up.
 * Every scan must stay linear; the bound asserted here is far above what a linear scan needs
 * (a few ms to a few tens of ms) and far below what a catastrophic one takes (seconds to hours).
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { createDetectors } from './index.ts';

const SIZE = 100_000;
const LIMIT_MS = 1000;

function repeat(unit: string): string {
  return unit.repeat(Math.ceil(SIZE / unit.length)).slice(0, SIZE);
}

const HOSTILE: Record<string, string> = {
  'a@a.a@': repeat('a@a.a@'),
  '@ only': repeat('@'),
  'valid emails': repeat('a@b.co '),
  'long local parts': repeat(`${'a'.repeat(63)}@`),
  'domain labels': `a@${repeat('a.')}`,
  '1-1-1': repeat('1-1-'),
  '1 1 1': repeat('1 1 '),
  '1.1.1': repeat('1.1.'),
  '50k digits': repeat('1234567890').slice(0, 50_000),
  'card groups': repeat('4111 1111 1111 1111 '),
  'ssn-like': repeat('536-22-8745 '),
  phones: repeat('(415) 555-0132 '),
  'plus digits': repeat('+1 '),
  'base64 run': repeat('QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0MTIzNDU2Nzg5MA'),
  'base64url run': repeat('abcDEF123_-'),
  'eyJ run': repeat('eyJ'),
  'eyJ headers': repeat('eyJhbGciOiJIUzI1NiJ9.'),
  'eyJ dots': repeat('eyJ.eyJ.'),
  '-----BEGIN': repeat('-----BEGIN '),
  'BEGIN headers': repeat('-----BEGIN RSA PRIVATE KEY-----'),
  'BEGIN/END blocks': repeat(
    '-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n',
  ),
  dashes: repeat('-'),
  colons: repeat(':'),
  '::1 repeated': repeat('::1 '),
  'hex colons': repeat('ffff:'),
  AKIA: repeat('AKIA'),
  'AKIA keys': repeat('AKIAABCDEFGHIJKLMNOP '),
  AIza: repeat('AIza'),
  ghp_: repeat('ghp_'),
  'glpat-': repeat('glpat-'),
  'xoxb-': repeat('xoxb-1'),
  'token=': repeat('token='),
  'password ': repeat('password '),
  'secret: long value': repeat(`secret: ${'Ab1'.repeat(100)} `),
  'IBAN prefixes': repeat('DE89 '),
  IBANs: repeat('DE89370400440532013000 '),
  dob: repeat('DOB 1990-01-01 '),
  born: repeat('born '),
  'MRN-': repeat('MRN-'),
  'AccountKey=': repeat('AccountKey='),
  'Q~': repeat('abc1Q~'),
  'aws secret context': repeat('aws_secret_access_key='),
  'aws secret values': repeat(`aws_secret ${'A1b/'.repeat(10)} `),
  'non-ASCII': repeat('é1@ü:'),
  spaces: repeat(' '),
  'printable mix': Array.from({ length: SIZE }, (_, i) =>
    String.fromCharCode(33 + ((i * 7919) % 94)),
  ).join(''),
};

test('every hostile 100 KB value scans in well under a second', (t) => {
  const detectors = createDetectors({ mrnPatterns: ['MRN[-: ]?\\d{6,8}', '[A-Z]{2}\\d{6,8}'] });
  let slowest = ['', 0] as [string, number];
  for (const [name, text] of Object.entries(HOSTILE)) {
    for (const columnHint of [undefined, 'password', 'dob']) {
      const start = performance.now();
      detectors.scan(text, columnHint === undefined ? {} : { columnHint });
      detectors.mayContain(text);
      const ms = performance.now() - start;
      if (ms > slowest[1]) slowest = [`${name} (${columnHint ?? 'no hint'})`, ms];
      assert.ok(ms < LIMIT_MS, `${name} took ${ms.toFixed(0)} ms`);
    }
  }
  t.diagnostic(`slowest: ${slowest[0]} ${slowest[1].toFixed(1)} ms`);
});
