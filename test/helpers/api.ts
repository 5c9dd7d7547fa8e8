/**
 * Calls a test gateway's control-plane API over HTTPS, trusting the gateway's own certificate.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import type { Gateway } from '../../src/server/gateway.ts';

export interface ApiAnswer {
  readonly status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests read the JSON answers freely
  readonly body: any;
}

/**
 * @example
 * const r = await apiRequest(gw, 'POST', '/v1/tokens', jwt, { name: 'x', purpose: 'y' });
 */
export function apiRequest(
  gw: Gateway,
  method: string,
  path: string,
  bearer: string,
  body?: unknown,
): Promise<ApiAnswer> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      `https://127.0.0.1:${gw.addresses.api?.port}${path}`,
      {
        method,
        ca: readFileSync(gw.tlsCertFile as string),
        headers: {
          authorization: `Bearer ${bearer}`,
          ...(payload ? { 'content-type': 'application/json' } : {}),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () => {
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // keep the raw text
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
