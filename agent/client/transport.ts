/** One HTTP exchange with the broker over node:http, on the Unix socket or loopback TCP. */
import http from 'node:http';
import { SecretsBrokerError } from './errors.js';

export type Endpoint = { socketPath: string } | { host: string; port: number };

export interface WireRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
  timeoutMs: number;
}

export interface WireResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** Statuses that mean "not now" rather than "no": the same request may succeed a moment later. */
export const RETRY_STATUSES: ReadonlySet<number> = new Set([423, 429, 503]);

/** `http://host:port` to a TCP endpoint; only plain HTTP, since the broker listens on loopback only. */
export function tcpEndpoint(url: string): Endpoint {
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:') throw new TypeError(`the broker URL must be http://host:port, not ${url}`);
  return { host: parsed.hostname.replace(/^\[|\]$/g, ''), port: Number(parsed.port || 80) };
}

export function describeEndpoint(endpoint: Endpoint): string {
  return 'socketPath' in endpoint ? endpoint.socketPath : `${endpoint.host}:${endpoint.port}`;
}

export function send(endpoint: Endpoint, agent: http.Agent, request: WireRequest): Promise<WireResponse> {
  const headers = { ...request.headers };
  if (request.body !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(Buffer.byteLength(request.body));
  }
  return new Promise((resolve, reject) => {
    const req = http.request(
      { ...endpoint, agent, method: request.method, path: request.path, headers, signal: request.signal },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', (err) => reject(connectionFailed(endpoint, err)));
      },
    );
    req.setTimeout(request.timeoutMs, () =>
      req.destroy(new Error(`no answer within ${request.timeoutMs} ms`, { cause: 'timeout' })),
    );
    req.on('error', (err) => reject(request.signal?.aborted ? request.signal.reason : connectionFailed(endpoint, err)));
    req.end(request.body);
  });
}

function connectionFailed(endpoint: Endpoint, err: Error): SecretsBrokerError {
  const reason = (err as NodeJS.ErrnoException).code ?? err.message;
  return new SecretsBrokerError(
    'connection_failed',
    0,
    `cannot reach the broker at ${describeEndpoint(endpoint)}: ${reason}`,
    {
      cause: err,
    },
  );
}

/**
 * How long to wait before retrying: the server's `Retry-After` (seconds or an HTTP date) when it
 * gives one, else a doubling backoff; never more than `capMs`, so a far-off date cannot stall a caller.
 */
export function retryDelayMs(retryAfter: string | undefined, attempt: number, capMs: number, now = Date.now()): number {
  const fallback = 250 * 2 ** attempt;
  let delay = fallback;
  if (retryAfter !== undefined && /^\s*\d+\s*$/.test(retryAfter)) delay = Number(retryAfter) * 1000;
  else if (retryAfter !== undefined && !Number.isNaN(Date.parse(retryAfter))) delay = Date.parse(retryAfter) - now;
  return Math.min(Math.max(delay, 0), capMs);
}
