import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { GatewayError } from '../../errors.ts';
import { hintInfo } from './context.ts';
import { knownIssuer } from './financial.ts';
import {
  assertSafePattern,
  createDetectors,
  DETECTOR_TYPES,
  type DetectorType,
  type ScanOptions,
} from './index.ts';
import {
  ibanMod97,
  jwtHeaderHasAlg,
  looksLikePlaceholder,
  luhn,
  shannonEntropy,
  validBirthDate,
  validIpv4,
  validIpv6,
  validPhone,
  validSsn,
} from './validate.ts';

const detectors = createDetectors({ mrnPatterns: ['MRN-\\d{7}'] });

/** `[type, value]` of every finding. */
function found(text: string, opts?: ScanOptions): [DetectorType, string][] {
  return detectors.scan(text, opts).map((f) => [f.type, text.slice(f.start, f.end)]);
}

/** Values found of one type. */
function valuesOf(type: DetectorType, text: string, opts?: ScanOptions): string[] {
  return found(text, opts)
    .filter(([t]) => t === type)
    .map(([, v]) => v);
}

function scoreOf(type: DetectorType, text: string, opts?: ScanOptions): number | undefined {
  return detectors.scan(text, opts).find((f) => f.type === type)?.score;
}

const b64url = (s: string): string => Buffer.from(s).toString('base64url');
const SIG = 'SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';
const JWT = `${b64url('{"alg":"HS256","typ":"JWT"}')}.${b64url('{"sub":"1234567890"}')}.${SIG}`;

describe('validators', () => {
  test('Luhn', () => {
    assert.ok(luhn('4111111111111111'));
    assert.ok(luhn('378282246310005'));
    assert.ok(!luhn('4111111111111112'));
  });

  test('issuer ranges and lengths', () => {
    assert.ok(knownIssuer('4111111111111111'));
    assert.ok(knownIssuer('4222222222222'));
    assert.ok(!knownIssuer('490154203237518'), 'Visa is 13, 16 or 19 digits, not 15');
    assert.ok(knownIssuer('2223000048400011'));
    assert.ok(!knownIssuer('2721000000000000'));
    assert.ok(knownIssuer('378282246310005'));
    assert.ok(!knownIssuer('9111111111111111'));
  });

  test('IBAN mod-97', () => {
    assert.ok(ibanMod97('GB82WEST12345698765432'));
    assert.ok(ibanMod97('DE89370400440532013000'));
    assert.ok(!ibanMod97('DE89370400440532013001'));
    assert.ok(!ibanMod97('DE89 3704'));
  });

  test('SSN rules', () => {
    assert.ok(validSsn('536', '22', '8745'));
    for (const [a, g, s] of [
      ['000', '12', '3456'],
      ['666', '12', '3456'],
      ['900', '12', '3456'],
      ['999', '12', '3456'],
      ['536', '00', '1234'],
      ['536', '22', '0000'],
      ['078', '05', '1120'],
      ['123', '45', '6789'],
      ['219', '09', '9999'],
      ['333', '33', '3333'],
    ] as const) {
      assert.ok(!validSsn(a, g, s), `${a}-${g}-${s}`);
    }
  });

  test('IPv4 octets', () => {
    assert.ok(validIpv4(['10', '0', '0', '1']));
    assert.ok(validIpv4(['255', '255', '255', '255']));
    assert.ok(!validIpv4(['256', '0', '0', '1']));
    assert.ok(!validIpv4(['01', '2', '3', '4']));
  });

  test('IPv6 text forms', () => {
    for (const ok of [
      '2001:db8::1',
      '::1',
      'fe80::1ff:fe23:4567:890a',
      '2001:0db8:85a3:0000:0000:8a2e:0370:7334',
      '::ffff:192.0.2.128',
      '1::',
    ]) {
      assert.ok(validIpv6(ok), ok);
    }
    for (const bad of [
      '1:2:3:4:5:6:7',
      '1::2::3',
      '12345::1',
      'Abc::Def',
      '00:1a:2b:3c:4d:5e',
      '10:30:00',
      '::ffff:192.0.2.300',
      '1:2:3:4:5:6:7:8:9',
    ]) {
      assert.ok(!validIpv6(bad), bad);
    }
  });

  test('phone numbers through libphonenumber (US by default)', () => {
    assert.ok(validPhone('(212) 555-0100'));
    assert.ok(validPhone('+44 20 7946 0958'));
    assert.ok(!validPhone('123-456-7890'));
    assert.ok(!validPhone('555-0123'));
  });

  test('birth dates', () => {
    assert.ok(validBirthDate(1984, 2, 29));
    assert.ok(!validBirthDate(1985, 2, 29));
    assert.ok(validBirthDate(2000, 2, 29));
    assert.ok(!validBirthDate(1900, 2, 29));
    assert.ok(!validBirthDate(1899, 1, 1));
    assert.ok(!validBirthDate(1990, 13, 1));
    assert.ok(!validBirthDate(new Date().getUTCFullYear() + 1, 1, 1));
  });

  test('entropy and placeholders', () => {
    assert.equal(shannonEntropy('aaaa'), 0);
    assert.equal(shannonEntropy('abcd'), 2);
    for (const p of [
      'xxxxxxxx',
      '********',
      '<your-key>',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${VAR} placeholder is the input under test
      '${TOKEN}',
      'AKIAIOSFODNN7EXAMPLE',
      'aaaaab',
    ]) {
      assert.ok(looksLikePlaceholder(p), p);
    }
    assert.ok(!looksLikePlaceholder('wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ8rTm3KpL'));
  });

  test('JOSE header needs alg', () => {
    assert.ok(jwtHeaderHasAlg(b64url('{"alg":"RS256"}')));
    assert.ok(!jwtHeaderHasAlg(b64url('{"typ":"JWT"}')));
    assert.ok(!jwtHeaderHasAlg(b64url('[1,2]')));
    assert.ok(!jwtHeaderHasAlg('not base64 json'));
  });
});

describe('email', () => {
  test('addresses in prose, markup and quotes', () => {
    assert.deepEqual(valuesOf('email', 'Mail ana.silva+news@mail.example.org.'), [
      'ana.silva+news@mail.example.org',
    ]);
    assert.deepEqual(valuesOf('email', 'From: Ana <ANA@EXAMPLE.COM>'), ['ANA@EXAMPLE.COM']);
    assert.deepEqual(valuesOf('email', "where email = 'o.reilly@example.io'"), [
      'o.reilly@example.io',
    ]);
    assert.deepEqual(valuesOf('email', "john.o'reilly@example.com"), ["john.o'reilly@example.com"]);
  });

  test('not addresses', () => {
    for (const t of ['user@localhost', 'a@b', 'foo@bar.c', '@handle', 'x@-bad-.com', 'v@1.2.3.4']) {
      assert.deepEqual(valuesOf('email', t), [], t);
    }
    assert.deepEqual(valuesOf('email', `${'a'.repeat(65)}@example.com`), []);
  });
});

describe('phone', () => {
  test('formatted North American and international numbers', () => {
    for (const p of [
      '(415) 555-0132',
      '415-555-0132',
      '415.555.0132',
      '+1 415 555 0132',
      '1-800-555-0199',
      '+14155550132',
      '+44 20 7946 0958',
      '+33 1 23 45 67 89',
      '+49 151 23456789',
    ]) {
      assert.deepEqual(valuesOf('phone', `call ${p} today`), [p], p);
    }
  });

  test('bare digits need a context word or a phone column', () => {
    assert.deepEqual(valuesOf('phone', 'invoice 4155550132'), []);
    assert.equal(scoreOf('phone', 'invoice 4155550132'), undefined);
    assert.deepEqual(valuesOf('phone', 'mobile: 4155550132'), ['4155550132']);
    assert.deepEqual(valuesOf('phone', '4155550132', { columnHint: 'phone_number' }), [
      '4155550132',
    ]);
  });

  test('invalid or non-phone numbers', () => {
    for (const t of [
      '555-0123',
      '123-456-7890',
      '2024-01-15 10:30:00',
      '94105-1234',
      'ISBN 0-306-40615-2',
      '1700000000',
      '536-22-8745',
    ]) {
      assert.deepEqual(valuesOf('phone', t), [], t);
    }
  });
});

describe('credit_card', () => {
  test('printed layouts with Luhn and an issuer', () => {
    for (const c of [
      '4111 1111 1111 1111',
      '4111-1111-1111-1111',
      '4111111111111111',
      '3782 822463 10005',
      '5555555555554444',
      '6011 1111 1111 1117',
    ]) {
      assert.deepEqual(valuesOf('credit_card', `paid with ${c}.`), [c], c);
    }
    assert.deepEqual(valuesOf('credit_card', 'Order 2023 4111 1111 1111 1111'), [
      '4111 1111 1111 1111',
    ]);
  });

  test('failing Luhn, unknown issuer, decimals and longer numbers are not cards', () => {
    for (const t of [
      '4111 1111 1111 1112',
      '9111111111111113',
      '4111111111111111.50',
      'ID4111111111111111',
      '12345678901234567890',
      '1234 5678 9012',
    ]) {
      assert.deepEqual(valuesOf('credit_card', t), [], t);
    }
  });

  test('context raises the score to 1', () => {
    assert.equal(scoreOf('credit_card', 'x 4111111111111111'), 0.8);
    assert.equal(scoreOf('credit_card', 'visa 4111111111111111'), 1);
  });
});

describe('us_ssn', () => {
  test('dashed numbers are reported, invalid ranges are not', () => {
    assert.deepEqual(valuesOf('us_ssn', 'employee 536-22-8745 on file'), ['536-22-8745']);
    for (const t of ['000-12-3456', '666-12-3456', '912-34-5678', '078-05-1120', '123-45-6789']) {
      assert.deepEqual(valuesOf('us_ssn', t), [], t);
    }
    assert.deepEqual(valuesOf('us_ssn', '536-22-87451'), []);
  });

  test('spaced and bare forms need context', () => {
    assert.deepEqual(valuesOf('us_ssn', 'ref 536 22 8745'), []);
    assert.deepEqual(valuesOf('us_ssn', 'SSN 536 22 8745'), ['536 22 8745']);
    assert.deepEqual(valuesOf('us_ssn', 'order 536228745'), []);
    assert.equal(scoreOf('us_ssn', 'ssn=536228745'), 0.65);
    assert.deepEqual(valuesOf('us_ssn', '536228745', { columnHint: 'patientSSN' }), ['536228745']);
  });
});

describe('iban', () => {
  test('compact and grouped, checked by mod-97 and country length', () => {
    assert.deepEqual(valuesOf('iban', 'IBAN DE89 3704 0044 0532 0130 00.'), [
      'DE89 3704 0044 0532 0130 00',
    ]);
    assert.deepEqual(valuesOf('iban', 'to GB82WEST12345698765432 today'), [
      'GB82WEST12345698765432',
    ]);
    for (const t of [
      'DE89 3704 0044 0532 0130 01',
      'DE89370400440532013000123',
      'XX89370400440532013000',
      'GB82WEST1234569876543',
    ]) {
      assert.deepEqual(valuesOf('iban', t), [], t);
    }
  });
});

describe('ip_address', () => {
  test('IPv4 in logs, URLs and CIDR', () => {
    assert.deepEqual(valuesOf('ip_address', 'client=10.1.2.3:5432 via http://192.168.0.1/x'), [
      '10.1.2.3',
      '192.168.0.1',
    ]);
    assert.deepEqual(valuesOf('ip_address', 'route 10.0.0.0/8.'), ['10.0.0.0']);
  });

  test('versions, product tokens, OIDs and out-of-range octets are not addresses', () => {
    for (const t of [
      'v1.2.3.4',
      'version 1.2.3.4',
      'Chrome/120.0.0.0',
      '1.3.6.1.4.1',
      '256.1.1.1',
      '1.2.3.4-beta',
      'build: 2.0.1.7',
    ]) {
      assert.deepEqual(valuesOf('ip_address', t), [], t);
    }
  });

  test('IPv6 forms; MACs, times and C++ scopes are not', () => {
    assert.deepEqual(valuesOf('ip_address', 'peer [2001:db8::1]:443'), ['2001:db8::1']);
    assert.deepEqual(valuesOf('ip_address', 'mapped ::ffff:192.0.2.1 ok'), ['::ffff:192.0.2.1']);
    assert.deepEqual(valuesOf('ip_address', 'fe80::1%eth0'), ['fe80::1']);
    for (const t of ['00:1a:2b:3c:4d:5e', '10:30:00', 'std::vector', 'Abc::Def']) {
      assert.deepEqual(valuesOf('ip_address', t), [], t);
    }
  });
});

describe('date_of_birth', () => {
  test('only next to a birth word, with no other number between', () => {
    assert.deepEqual(valuesOf('date_of_birth', 'DOB: 1985-03-14, admitted 2023-01-04'), [
      '1985-03-14',
    ]);
    assert.deepEqual(valuesOf('date_of_birth', 'born on 14 March 1985'), ['14 March 1985']);
    assert.deepEqual(valuesOf('date_of_birth', 'DOB: 5/7/1985'), ['5/7/1985']);
    assert.deepEqual(valuesOf('date_of_birth', 'Date of birth (MM/DD/YYYY): 03/14/1985'), [
      '03/14/1985',
    ]);
    assert.deepEqual(valuesOf('date_of_birth', 'admitted 2023-01-04'), []);
    assert.deepEqual(valuesOf('date_of_birth', 'dob 1985-02-30'), []);
  });

  test('a birth-date column counts as context', () => {
    assert.deepEqual(valuesOf('date_of_birth', '1985-03-14', { columnHint: 'dateOfBirth' }), [
      '1985-03-14',
    ]);
    assert.deepEqual(valuesOf('date_of_birth', '1985-03-14', { columnHint: 'created_at' }), []);
  });
});

describe('mrn', () => {
  test('configured patterns only, as whole tokens; context raises the score', () => {
    assert.deepEqual(valuesOf('mrn', 'chart MRN-0012345 seen'), ['MRN-0012345']);
    assert.deepEqual(valuesOf('mrn', 'MRN-00123456'), []);
    assert.equal(scoreOf('mrn', 'id MRN-0012345'), 0.6);
    assert.equal(scoreOf('mrn', 'medical record MRN-0012345'), 0.95);
    assert.deepEqual(createDetectors().scan('MRN-0012345'), []);
  });

  test('unsafe patterns are refused at construction', () => {
    for (const p of [
      '(a+)+',
      '\\d+',
      '(\\d{1,5}){3}',
      '(?=x)\\d{3}',
      '(a)\\1',
      '(a|b){2}',
      '.{1,100}',
    ]) {
      assert.throws(() => assertSafePattern(p), Error, p);
    }
    assert.throws(() => assertSafePattern('\\d{0,64}\\d{0,64}'), /too many ways/);
    for (const p of ['MRN-\\d{7}', '[A-Z]{2}\\d{6,8}', '(?:MR|PT)-?\\d{6}', '\\d{3}-\\d{4}']) {
      assert.doesNotThrow(() => assertSafePattern(p), p);
    }
    assert.throws(
      () => createDetectors({ mrnPatterns: ['(\\d+)+'] }),
      (err: unknown) => err instanceof GatewayError && err.code === 'GW_CONFIG_INVALID',
    );
  });
});

describe('secrets', () => {
  const cases: [DetectorType, string, string][] = [
    ['aws_access_key', 'AKIAZ3MHQ7RXWJ4PL2NK', 'aws_access_key_id = AKIAZ3MHQ7RXWJ4PL2NK'],
    ['aws_access_key', 'ASIAY34FZKBOKMUTVV7A', '{"AccessKeyId":"ASIAY34FZKBOKMUTVV7A"}'],
    [
      'aws_secret_key',
      'wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ8rTm3KpL',
      'aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ8rTm3KpL',
    ],
    [
      'gcp_api_key',
      'AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY',
      'key=AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY&x=1',
    ],
    [
      'github_token',
      'ghp_1a2B3c4D5e6F7g8H9i0J1k2L3m4N5o6P7q8R',
      'GITHUB_TOKEN=ghp_1a2B3c4D5e6F7g8H9i0J1k2L3m4N5o6P7q8R',
    ],
    ['gitlab_token', 'glpat-Xy9_kL2mN8pQ4rS6tV1w', 'PRIVATE-TOKEN: glpat-Xy9_kL2mN8pQ4rS6tV1w'],
    [
      'slack_token',
      'xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx',
      'SLACK=xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx',
    ],
    [
      'azure_key',
      'abc8Q~dEfGhIjKlMnOpQrStUvWxYz0123456789-',
      'AZURE_CLIENT_SECRET=abc8Q~dEfGhIjKlMnOpQrStUvWxYz0123456789-',
    ],
    ['jwt', JWT, `Authorization: Bearer ${JWT}`],
    ['generic_secret', 'Xk9#mQ2$vL7!pR4@zT', 'password=Xk9#mQ2$vL7!pR4@zT'],
  ];
  for (const [type, value, text] of cases) {
    test(`${type}: ${text.slice(0, 40)}`, () => {
      assert.deepEqual(found(text), [[type, value]]);
    });
  }

  test('Azure storage account keys in connection strings', () => {
    const key = `${'Ab3+'.repeat(21)}x9==`;
    const text = `DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=${key};EndpointSuffix=core.windows.net`;
    assert.deepEqual(valuesOf('azure_key', text), [key]);
  });

  test('placeholders, prose and low entropy are not secrets', () => {
    for (const t of [
      'aws_access_key_id = AKIAIOSFODNN7EXAMPLE',
      'aws_access_key_id = AKIAXXXXXXXXXXXXXXXX',
      'Access key IDs begin with AKIA.',
      'GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
      'SLACK_BOT_TOKEN=xoxb-your-token-here',
      'password=hunter2',
      'password: ********',
      'api_key=<your-api-key>',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${VAR} placeholder is the input under test
      'token: ${GITHUB_TOKEN}',
      'secret_santa=true',
      `checksum wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ8rTm3KpL`,
    ]) {
      assert.deepEqual(found(t), [], t);
    }
  });

  test('JWTs need a JOSE header; unsigned ones have an empty signature', () => {
    const none = `${b64url('{"alg":"none"}')}.${b64url('{"sub":"1"}')}.`;
    assert.deepEqual(valuesOf('jwt', `t=${none} x`), [none]);
    const noAlg = `${b64url('{"typ":"JWT"}')}.${b64url('{"sub":"1"}')}.${SIG}`;
    assert.deepEqual(valuesOf('jwt', noAlg), []);
    assert.deepEqual(valuesOf('jwt', `${JWT}.${SIG}`), [], 'five segments is a JWE, not a JWS');
  });

  test('private key blocks, whole or cut short; public keys are not secrets', () => {
    const body = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj';
    const key = `-----BEGIN RSA PRIVATE KEY-----\n${body}\n-----END RSA PRIVATE KEY-----`;
    assert.deepEqual(valuesOf('private_key', `file:\n${key}\n`), [key]);
    const cut = `-----BEGIN PRIVATE KEY-----\\n${body}`;
    assert.deepEqual(valuesOf('private_key', `"${cut}"`), [cut]);
    const pub = `-----BEGIN PUBLIC KEY-----\n${body}\n-----END PUBLIC KEY-----`;
    assert.deepEqual(valuesOf('private_key', pub), []);
  });

  test('a secret-named column scans the whole value', () => {
    const hash = '$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW';
    assert.deepEqual(valuesOf('generic_secret', hash, { columnHint: 'password_hash' }), [hash]);
    assert.deepEqual(valuesOf('generic_secret', hash), []);
  });

  test('a named token wins over the generic rule and over an email it overlaps', () => {
    const t = 'ghp_1a2B3c4D5e6F7g8H9i0J1k2L3m4N5o6P7q8R';
    assert.deepEqual(found(`git clone https://x-access-token:${t}@github.com/a/b.git`), [
      ['github_token', t],
    ]);
  });
});

describe('configuration and options', () => {
  test('thresholds, disabled types and the types filter', () => {
    const strict = createDetectors({ thresholds: { ip_address: 0.9 } });
    assert.deepEqual(strict.scan('seen 192.168.1.1'), [], '0.6 without context');
    assert.equal(strict.scan('host 192.168.1.1')[0]?.score, 0.95);
    const text = 'host 10.1.2.3 mail ana@example.org';
    const noEmail = createDetectors({ disabled: ['email'] });
    assert.deepEqual(
      noEmail.scan(text).map((f) => f.type),
      ['ip_address'],
    );
    assert.deepEqual(
      detectors.scan(text, { types: new Set(['email']) }).map((f) => f.type),
      ['email'],
    );
    assert.equal(detectors.mayContain(text, { types: new Set(['jwt']) }), false);
    assert.equal(detectors.mayContain(text), true);
    assert.equal(detectors.mayContain('Olivia'), false);
  });

  test('bad configuration is a GW_CONFIG_INVALID error', () => {
    const isConfigError = (err: unknown) =>
      err instanceof GatewayError && err.code === 'GW_CONFIG_INVALID';
    assert.throws(() => createDetectors({ thresholds: { email: 2 } }), isConfigError);
    assert.throws(() => createDetectors({ disabled: ['nope' as DetectorType] }), isConfigError);
  });

  test('column names are read in snake, camel and kebab case', () => {
    assert.ok(hintInfo('patientDOB').boosts.has('date_of_birth'));
    assert.ok(hintInfo('date-of-birth').boosts.has('date_of_birth'));
    assert.ok(hintInfo('ssn').boosts.has('us_ssn'));
    assert.ok(hintInfo('dbPassword').secret);
    assert.ok(
      !hintInfo('account_id').boosts.has('credit_card'),
      '"cc" inside a word is not a word',
    );
  });

  test('every type is produced by some detector', () => {
    const seen = new Set<DetectorType>();
    const all = createDetectors({ mrnPatterns: ['MRN-\\d{7}'] });
    const key = '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----';
    const text = [
      'a@example.org (415) 555-0132 4111111111111111 536-22-8745 DE89370400440532013000',
      '10.0.0.1 dob 1985-03-14 MRN-0012345 AKIAZ3MHQ7RXWJ4PL2NK',
      'aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ8rTm3KpL',
      'AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY abc8Q~dEfGhIjKlMnOpQrStUvWxYz0123456789-',
      'ghp_1a2B3c4D5e6F7g8H9i0J1k2L3m4N5o6P7q8R glpat-Xy9_kL2mN8pQ4rS6tV1w',
      'xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx',
      `${JWT} ${key} password=Xk9#mQ2$vL7!pR4@zT`,
    ].join('\n');
    for (const f of all.scan(text)) seen.add(f.type);
    assert.deepEqual([...seen].sort(), [...DETECTOR_TYPES].sort());
  });
});

describe('contract properties', () => {
  const pieces = fc.constantFrom(
    'a@b.co',
    ' ',
    '4111 1111 1111 1111',
    '536-22-8745',
    '(415) 555-0132',
    '10.0.0.1',
    '::1',
    'ssn',
    'token=',
    'Xk9#mQ2$vL7!pR4@zT',
    'DE89 3704 0044 0532 0130 00',
    '-',
    '.',
    ':',
    '1',
    'eyJ',
    JWT,
  );
  const texts = fc.oneof(
    fc.string({ maxLength: 80 }),
    fc.array(pieces, { maxLength: 12 }).map((a) => a.join('')),
  );

  test('findings are sorted, disjoint, in bounds and above threshold; mayContain is sound', () => {
    fc.assert(
      fc.property(texts, fc.constantFrom(undefined, 'ssn', 'password', 'notes'), (text, hint) => {
        const opts = hint === undefined ? {} : { columnHint: hint };
        const findings = detectors.scan(text, opts);
        let lastEnd = 0;
        for (const f of findings) {
          assert.ok(f.start >= lastEnd && f.end > f.start && f.end <= text.length);
          assert.ok(f.score >= 0.5 && f.score <= 1);
          lastEnd = f.end;
        }
        if (!detectors.mayContain(text, opts)) assert.deepEqual(findings, []);
      }),
      { numRuns: 2000 },
    );
  });
});
