import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  credentialsPath,
  readCredential,
  removeCredential,
  writeCredential,
} from './credentials-file.ts';
import type { OidcCredential } from './login.ts';

let home: string;
const saved = process.env.AIRLOCK_HOME;

before(() => {
  home = join(mkdtempSync(join(tmpdir(), 'airlock-creds-')), 'nested');
  process.env.AIRLOCK_HOME = home;
});
after(() => {
  if (saved === undefined) delete process.env.AIRLOCK_HOME;
  else process.env.AIRLOCK_HOME = saved;
  rmSync(join(home, '..'), { recursive: true, force: true });
});

const cred = (issuer: string, username = 'alice@example.com'): OidcCredential => ({
  issuer,
  idToken: 'eyJ.x.y',
  refreshToken: 'rt',
  expiresAt: 1_700_000_000_000,
  username,
});

describe('credentials file', () => {
  it('lives in $AIRLOCK_HOME, created 0700, written 0600', () => {
    assert.equal(credentialsPath(), join(home, 'credentials.json'));
    assert.equal(readCredential('https://a.example'), undefined);
    writeCredential(cred('https://a.example'));
    assert.equal(statSync(home).mode & 0o777, 0o700);
    assert.equal(statSync(credentialsPath()).mode & 0o777, 0o600);
    assert.deepEqual(readCredential('https://a.example'), cred('https://a.example'));
  });

  it('keeps one credential per issuer and replaces atomically', () => {
    writeCredential(cred('https://b.example', 'bob'));
    writeCredential(cred('https://a.example', 'alice2'));
    assert.equal(readCredential('https://a.example')?.username, 'alice2');
    assert.equal(readCredential('https://b.example')?.username, 'bob');
    assert.deepEqual(readdirSync(home), ['credentials.json'], 'no temp files left');
    assert.equal(statSync(credentialsPath()).mode & 0o777, 0o600);
  });

  it('removes one issuer', () => {
    assert.equal(removeCredential('https://a.example'), true);
    assert.equal(removeCredential('https://a.example'), false);
    assert.equal(readCredential('https://a.example'), undefined);
    assert.equal(readCredential('https://b.example')?.username, 'bob');
  });

  it('says which file is broken without printing it', () => {
    writeFileSync(credentialsPath(), '{"https://a.example": {"idToken": "eyJsecret');
    assert.throws(
      () => readCredential('https://a.example'),
      (err: Error) => {
        assert.match(err.message, /credentials\.json is not valid JSON/);
        assert.equal(err.message.includes('eyJsecret'), false);
        return true;
      },
    );
  });
});
