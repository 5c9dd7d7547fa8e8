/**
 * The floor of any Node.js data path, for `bench:pg`: a TCP relay that pipes bytes both ways and
 * does nothing else (no parsing, no policy, no ledger). What it costs per transaction is what
 * Node.js and the kernel cost before Airlock does any work of its own.
 *
 * Run as its own process: `node bench/lib/node-relay.ts <listenPort> <upstreamPort>` (127.0.0.1).
 */
import { connect, createServer } from 'node:net';

const [listenPort, upstreamPort] = process.argv.slice(2).map(Number);
if (!listenPort || !upstreamPort) {
  process.stderr.write('usage: node-relay.ts <listenPort> <upstreamPort>\n');
  process.exit(2);
}

createServer((client) => {
  client.setNoDelay(true);
  const upstream = connect(upstreamPort, '127.0.0.1');
  upstream.setNoDelay(true);
  client.pipe(upstream);
  upstream.pipe(client);
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => client.destroy());
}).listen(listenPort, '127.0.0.1');
