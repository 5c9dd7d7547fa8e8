/** Loopback ports for the benches: a free one, and waiting for a child to bind its own. */
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** A port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/**
 * Waits until `port` on 127.0.0.1 is taken (probing every 100 ms, `tries` times), failing early
 * when `child` exits.
 *
 * @example
 * await waitForPort(port, child, 'airlock', 150);
 */
export async function waitForPort(
  port: number,
  child: ChildProcess,
  what: string,
  tries: number,
): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    const bound = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(true));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(false)));
    });
    if (bound) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not start listening on ${port}`);
}
