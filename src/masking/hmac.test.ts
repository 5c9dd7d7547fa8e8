import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { HmacSha256 } from './hmac.ts';

describe('HmacSha256', () => {
  it('matches createHmac for the RFC 4231 test case 2', () => {
    const mac = new HmacSha256(Buffer.from('Jefe'));
    assert.equal(
      Buffer.from(mac.digest('what do ya want for nothing?')).toString('hex'),
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });

  it('matches createHmac for any key and message (lengths across block edges, UTF-8)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 150 }),
        fc.string({ unit: 'binary', maxLength: 200 }),
        (key, msg) => {
          const want = createHmac('sha256', key).update(msg, 'utf8').digest('hex');
          assert.equal(Buffer.from(new HmacSha256(key).digest(msg)).toString('hex'), want);
        },
      ),
      { numRuns: 300 },
    );
    const key = randomBytes(32);
    const mac = new HmacSha256(key);
    for (let n = 0; n < 200; n++) {
      const msg = 'é'.repeat(n % 7) + 'x'.repeat(n);
      assert.equal(
        Buffer.from(mac.digest(msg)).toString('hex'),
        createHmac('sha256', key).update(msg).digest('hex'),
      );
    }
  });

  it('digestOf(prefix, value) is the HMAC of both, around the one-block limit too', () => {
    const key = randomBytes(40);
    const mac = new HmacSha256(key);
    for (const prefix of ['', 'hash\0', 'format\u00000\u0000']) {
      for (let n = 0; n < 70; n++) {
        for (const value of ['x'.repeat(n), `${'y'.repeat(n)}é`, `a@b.c${'1'.repeat(n)}`]) {
          assert.equal(
            Buffer.from(mac.digestOf(prefix, value)).toString('hex'),
            createHmac('sha256', key)
              .update(prefix + value)
              .digest('hex'),
            `${JSON.stringify(prefix)} + ${value.length} characters`,
          );
        }
      }
    }
  });
});
