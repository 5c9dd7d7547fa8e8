import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { scramVerifier } from '../../identity/scram-verifier.ts';
import { ScramClient, ScramServer } from './scram.ts';

describe('SCRAM-SHA-256', () => {
  it('client and server agree on the right password, with mutual authentication', () => {
    const server = new ScramServer(scramVerifier('correct horse'));
    const client = new ScramClient('correct horse');
    const serverFirst = server.first(client.start());
    const serverFinal = server.final(client.continue(serverFirst));
    assert.ok(serverFinal);
    client.finish(serverFinal);
  });

  it('the server rejects a wrong password', () => {
    const server = new ScramServer(scramVerifier('correct horse'));
    const client = new ScramClient('wrong');
    assert.equal(server.final(client.continue(server.first(client.start()))), undefined);
  });

  it('an unknown user runs the same exchange and fails', () => {
    const server = new ScramServer(undefined);
    const client = new ScramClient('anything');
    assert.equal(server.final(client.continue(server.first(client.start()))), undefined);
  });

  it('the client rejects a forged server signature', () => {
    const server = new ScramServer(scramVerifier('pw'));
    const client = new ScramClient('pw');
    server.final(client.continue(server.first(client.start())));
    assert.throws(() => client.finish('v=AAAA'), /signature/);
  });

  it('refuses channel binding it did not offer and malformed messages', () => {
    assert.throws(() => new ScramServer(undefined).first('p=tls-server-end-point,,n=,r=abc'));
    assert.throws(() => new ScramServer(undefined).first('garbage'));
  });
});
