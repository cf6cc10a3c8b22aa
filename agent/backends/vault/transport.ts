/**
 * The HTTP transport under node-vault. node-vault builds paths and headers and parses Vault's
 * answers, but its own axios transport drops the response headers (so `Retry-After` is lost) and
 * does not accept an AbortSignal. node-vault 0.12 takes a replacement through its typed
 * `request-promise` option (`.defaults()` returns the request function), which is what this is:
 * one `node:http(s)` request per call, with a timeout, the caller's signal, the configured CA, and
 * a typed error for every non-2xx answer that keeps Vault's `errors` and `Retry-After`.
 */
import http from 'node:http';
import https from 'node:https';
import { onAbort } from './abort-fanout.js';

/** What node-vault hands its request function (its own fields plus our per-call options). */
export interface TransportRequest {
  method: string;
  uri: string;
  headers?: Record<string, string>;
  /** A JSON body; node-vault puts the payload of writes here. */
  json?: unknown;
  timeout?: number;
  signal?: AbortSignal;
  /** Resolve instead of reject on any status (sys/health answers 429/501/503 with a body). */
  acceptAnyStatus?: boolean;
}

/** The response shape node-vault's `handleVaultResponse` expects. */
export interface TransportResponse {
  statusCode: number;
  body: unknown;
  request: { path: string };
}

/** Vault answered with a status other than 2xx. `errors` is Vault's list; it never holds a value. */
export class VaultHttpError extends Error {
  override readonly name = 'VaultHttpError';
  constructor(
    readonly statusCode: number,
    readonly errors: string[],
    /** From `Retry-After`, when Vault (or a proxy in front of it) sent one. */
    readonly retryAfterMs: number | undefined,
    readonly path: string,
  ) {
    super(`vault answered ${statusCode} for ${path}${errors.length ? `: ${errors.join('; ')}` : ''}`);
  }
}

/** `tls`: the certificate did not verify (a configuration problem, not a passing one). */
export type TransportFailure = 'timeout' | 'aborted' | 'connection' | 'tls' | 'protocol';

/** No usable answer arrived: the connection failed, timed out or was aborted. */
export class VaultTransportError extends Error {
  override readonly name = 'VaultTransportError';
  constructor(
    readonly failure: TransportFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface TransportOptions {
  /** Default timeout of one request; a per-call `timeout` overrides it. */
  requestTimeoutMs: number;
  /** PEM bundle that verifies Vault's certificate (added to nothing: it replaces the default CAs). */
  ca?: Buffer;
}

/**
 * Connections to Vault at once; more requests wait in the agent's queue. Twice what one list page
 * reads in parallel, so a list cannot take every connection from the reads beside it, and a burst
 * of requests cannot open hundreds of sockets to Vault.
 */
export const VAULT_MAX_SOCKETS = 32;

/** A Vault list of 10,000 keys is well under a megabyte; this only stops a runaway answer. */
const MAX_BODY_BYTES = 32 * 1024 * 1024;

export interface VaultTransport {
  request(req: TransportRequest): Promise<TransportResponse>;
  /** Closes idle keep-alive sockets so the process can exit. */
  close(): void;
}

export function createVaultTransport(options: TransportOptions): VaultTransport {
  const httpAgent = new http.Agent({ keepAlive: true, maxSockets: VAULT_MAX_SOCKETS });
  const httpsAgent = new https.Agent({
    keepAlive: true,
    maxSockets: VAULT_MAX_SOCKETS,
    ...(options.ca ? { ca: options.ca } : {}),
  });
  return {
    request: (req) => send(req, req.uri.startsWith('https:') ? httpsAgent : httpAgent, options.requestTimeoutMs),
    close: () => {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

function send(req: TransportRequest, agent: http.Agent, defaultTimeoutMs: number): Promise<TransportResponse> {
  const url = new URL(req.uri);
  const payload = req.json !== undefined && typeof req.json === 'object' ? JSON.stringify(req.json) : undefined;
  const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
  if (payload !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  return new Promise((resolve, reject) => {
    if (req.signal?.aborted) {
      reject(new VaultTransportError('aborted', `request to ${url.pathname} aborted before it started`));
      return;
    }
    const lib = url.protocol === 'https:' ? https : http;
    const outgoing = lib.request(url, { method: req.method, headers, agent });
    const fail = (err: VaultTransportError) => {
      cleanup();
      outgoing.destroy();
      reject(err);
    };
    const timer = setTimeout(
      () => fail(new VaultTransportError('timeout', `request to ${url.pathname} timed out`)),
      req.timeout ?? defaultTimeoutMs,
    );
    const unsubscribe = req.signal
      ? onAbort(req.signal, () => fail(new VaultTransportError('aborted', `request to ${url.pathname} aborted`)))
      : undefined;
    const cleanup = () => {
      clearTimeout(timer);
      unsubscribe?.();
    };
    outgoing.on('error', (err) => fail(connectionError(err, url.pathname)));
    outgoing.on('response', (incoming) => {
      readBody(incoming).then(
        (raw) => {
          cleanup();
          settle(req, url.pathname, incoming, raw, resolve, reject);
        },
        (err: unknown) => fail(connectionError(err, url.pathname)),
      );
    });
    outgoing.end(payload);
  });
}

function settle(
  req: TransportRequest,
  path: string,
  incoming: http.IncomingMessage,
  raw: string,
  resolve: (res: TransportResponse) => void,
  reject: (err: Error) => void,
): void {
  const statusCode = incoming.statusCode ?? 0;
  const body = parseBody(raw);
  const ok = statusCode >= 200 && statusCode < 300;
  if (ok || req.acceptAnyStatus) {
    if (ok && body === INVALID_JSON) {
      reject(new VaultTransportError('protocol', `vault answered ${path} with a body that is not JSON`));
      return;
    }
    resolve({ statusCode, body: body === INVALID_JSON ? undefined : body, request: { path } });
    return;
  }
  reject(new VaultHttpError(statusCode, errorsOf(body), parseRetryAfter(incoming.headers['retry-after']), path));
}

function readBody(incoming: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    incoming.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        incoming.destroy(new Error(`response body over ${MAX_BODY_BYTES} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    incoming.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    incoming.on('error', reject);
    incoming.on('aborted', () => reject(new Error('response aborted')));
  });
}

const INVALID_JSON = Symbol('invalid JSON');

const TLS_CODE = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|HOSTNAME/;

function parseBody(raw: string): unknown {
  if (raw.trim() === '') return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return INVALID_JSON;
  }
}

function errorsOf(body: unknown): string[] {
  const errors = (body as { errors?: unknown } | undefined)?.errors;
  return Array.isArray(errors) ? errors.filter((e): e is string => typeof e === 'string') : [];
}

/** `Retry-After` is either delay-seconds or an HTTP date (RFC 9110 section 10.2.3). */
export function parseRetryAfter(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function connectionError(err: unknown, path: string): VaultTransportError {
  if (err instanceof VaultTransportError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? 'unknown';
  const failure = TLS_CODE.test(code) ? 'tls' : 'connection';
  return new VaultTransportError(failure, `request to ${path} failed (${code})`, { cause: err });
}
