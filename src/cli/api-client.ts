/**
 * The CLI's client for the gateway's control-plane API. The address is `--api URL`, else
 * `$AIRLOCK_API`, else `listen.api` from the config; over HTTPS the gateway's own certificate
 * (configured, or the self-signed one in the data folder) is the trust root.
 */
import { existsSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import type { AirlockConfig } from '../config/schema.ts';
import { UsageError } from './args.ts';

export interface ApiTarget {
  readonly url: URL;
  readonly ca: Buffer | undefined;
}

const TIMEOUT_MS = 15_000;
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * @example
 * const target = apiTarget(cfg, flags.api);
 */
export function apiTarget(cfg: AirlockConfig, override?: string): ApiTarget {
  const explicit = override ?? process.env.AIRLOCK_API;
  const tlsOn = Boolean(cfg.tls.cert_file) || cfg.tls.self_signed;
  let url: URL;
  if (explicit) {
    url = new URL(explicit);
  } else if (cfg.listen.api) {
    url = new URL(`${tlsOn ? 'https' : 'http'}://${cfg.listen.api}`);
  } else {
    throw new UsageError('no API address: set listen.api in the config, or pass --api URL');
  }
  const certFile = cfg.tls.cert_file ?? join(cfg.data_dir, 'tls', 'gateway.crt');
  const ca = url.protocol === 'https:' && existsSync(certFile) ? readFileSync(certFile) : undefined;
  return { url, ca };
}

/**
 * One JSON call. Resolves with the parsed body of a 2xx answer; rejects with an ApiError that
 * carries the API's error code and message otherwise.
 */
export function apiCall<T>(
  target: ApiTarget,
  method: string,
  path: string,
  bearer: string,
  body?: unknown,
): Promise<T> {
  const url = new URL(path, target.url);
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<T>((resolve, reject) => {
    const req = send(
      url,
      {
        method,
        timeout: TIMEOUT_MS,
        ...(target.ca ? { ca: target.ca } : {}),
        headers: {
          authorization: `Bearer ${bearer}`,
          accept: 'application/json',
          ...(payload
            ? { 'content-type': 'application/json', 'content-length': payload.length }
            : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_RESPONSE_BYTES) req.destroy(new Error('API response too large'));
          else chunks.push(c);
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : {};
          } catch {
            reject(
              new ApiError(status, 'bad_response', `the API answered ${status} with non-JSON`),
            );
            return;
          }
          if (status >= 200 && status < 300) resolve(json as T);
          else {
            const e = (json as { error?: { code?: string; message?: string } }).error;
            reject(new ApiError(status, e?.code ?? 'error', e?.message ?? `HTTP ${status}`));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url.origin} in time`)));
    req.on('error', reject);
    req.end(payload);
  });
}
