/**
 * The typed client of the secrets API. Every call goes through one path: the token from its file,
 * one HTTP exchange, bounded retries on 423/429/503, and one repeat after a 401 if the token file
 * has changed since it was read.
 */
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { resolveLocation } from './defaults.js';
import { errorFromResponse, SecretsBrokerError } from './errors.js';
import { fixedToken, TokenFile, type TokenSource } from './token-file.js';
import { type Endpoint, RETRY_STATUSES, retryDelayMs, send, tcpEndpoint, type WireResponse } from './transport.js';
import type { ListPage, ListQuery, NewSecret, Secret, SecretMetadata, SecretUpdate, WrittenSecret } from './types.js';

export interface SecretsBrokerClientOptions {
  /** Unix socket of the broker. Default: `SECRETS_BROKER_SOCKET`, else `.secrets-broker/broker.sock`. */
  socketPath?: string;
  /** `http://127.0.0.1:PORT` to use loopback TCP instead of the socket. */
  url?: string;
  /** Token file, read again whenever it changes. Default: `SECRETS_BROKER_TOKEN_FILE`, else `token` beside the socket. */
  tokenFile?: string;
  /** A fixed token instead of a file. */
  token?: string;
  /** Retries of a call answered 423, 429 or 503 (default 3; 0 turns retries off). */
  maxRetries?: number;
  /** The longest wait between retries, whatever `Retry-After` asks (default 5,000 ms). */
  maxRetryDelayMs?: number;
  /** How long one request may take (default 30,000 ms; a watch adds its wait). */
  timeoutMs?: number;
  /** Where defaults are read from (default `process.env` and `process.cwd()`). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface GetOptions extends CallOptions {
  /** Read this older version instead of the current one. */
  version?: string;
  /** Bypass the broker's cache and read from the backend. */
  noCache?: boolean;
}

export interface PutOptions extends CallOptions {
  /** Write only if the current version is this one; else the call fails with `precondition_failed`. */
  ifMatch?: string;
}

export interface DeleteOptions extends PutOptions {
  /** Delete permanently and free the id at once, instead of a recoverable delete. */
  force?: boolean;
}

export interface WatchOptions extends CallOptions {
  /** The version already known; without it the current version is read first (and not yielded). */
  since?: string;
  /** How long the broker holds each request before answering "unchanged" (1-300 s, default 60). */
  waitSeconds?: number;
}

interface Call extends CallOptions {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: unknown;
  timeoutMs?: number;
}

/**
 * A client of one secrets-broker, over its Unix socket (the default) or loopback TCP.
 *
 * @example
 * import { SecretsBrokerClient } from 'secrets-broker/client';
 *
 * const broker = new SecretsBrokerClient(); // SECRETS_BROKER_SOCKET and its token file
 * const { value, version } = await broker.get('prod/db/password');
 * await broker.put('prod/db/password', { value: 'rotated' }, { ifMatch: version });
 * for await (const item of broker.list({ filter: '^prod/' })) console.log(item.id);
 * broker.close();
 */
export class SecretsBrokerClient {
  readonly #endpoint: Endpoint;
  readonly #token: TokenSource;
  readonly #agent = new http.Agent({ keepAlive: true });
  readonly #maxRetries: number;
  readonly #maxRetryDelayMs: number;
  readonly #timeoutMs: number;

  constructor(options: SecretsBrokerClientOptions = {}) {
    const { socketPath, tokenFile } = resolveLocation(
      { socketPath: options.socketPath, tokenFile: options.tokenFile },
      options.env,
      options.cwd,
    );
    this.#endpoint = options.url ? tcpEndpoint(options.url) : { socketPath };
    this.#token = options.token !== undefined ? fixedToken(options.token) : new TokenFile(tokenFile);
    this.#maxRetries = options.maxRetries ?? 3;
    this.#maxRetryDelayMs = options.maxRetryDelayMs ?? 5_000;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  /**
   * Creates a secret; fails with `already_exists` (or `pending_deletion`) if the id is taken.
   * @example
   * const { version } = await broker.create({ id: 'prod/api-key', value: 'k3y', tags: { team: 'core' } });
   */
  async create(secret: NewSecret, options: CallOptions = {}): Promise<WrittenSecret> {
    return this.#json(await this.#call({ ...options, method: 'POST', path: '/secrets', body: secret }), 201);
  }

  /**
   * Reads a secret with its value.
   * @example
   * const secret = await broker.get('prod/db/password', { noCache: true });
   * const bytes = Buffer.from(secret.value, secret.encoding === 'base64' ? 'base64' : 'utf8');
   */
  async get(id: string, options: GetOptions = {}): Promise<Secret> {
    const query = options.version ? `?version=${encodeURIComponent(options.version)}` : '';
    const headers: Record<string, string> = options.noCache ? { 'cache-control': 'no-cache' } : {};
    return this.#json(await this.#call({ ...options, method: 'GET', path: secretPath(id) + query, headers }), 200);
  }

  /**
   * Replaces the value (and optionally description and tags) of an existing secret.
   * @example
   * await broker.put('prod/db/password', { value: 'rotated' }, { ifMatch: secret.version });
   */
  async put(id: string, update: SecretUpdate, options: PutOptions = {}): Promise<WrittenSecret> {
    const headers = ifMatchHeader(options.ifMatch);
    return this.#json(
      await this.#call({ ...options, method: 'PUT', path: secretPath(id), headers, body: update }),
      200,
    );
  }

  /**
   * Deletes a secret: recoverable with `restore` unless `force` is set.
   * @example
   * await broker.delete('prod/old-key', { force: true });
   */
  async delete(id: string, options: DeleteOptions = {}): Promise<void> {
    const path = secretPath(id) + (options.force ? '?force=true' : '');
    const response = await this.#call({ ...options, method: 'DELETE', path, headers: ifMatchHeader(options.ifMatch) });
    this.#expect(response, 204);
  }

  /**
   * Cancels a recoverable delete (`POST /secrets/{id}:restore`).
   * @example
   * await broker.restore('prod/old-key');
   */
  async restore(id: string, options: CallOptions = {}): Promise<WrittenSecret> {
    return this.#json(await this.#call({ ...options, method: 'POST', path: `${secretPath(id)}:restore` }), 200);
  }

  /**
   * One page of metadata (never values); pass `nextCursor` back as `cursor` for the next.
   * @example
   * const { items, nextCursor } = await broker.listPage({ filter: '^prod/', limit: 50 });
   */
  async listPage(query: ListQuery = {}, options: CallOptions = {}): Promise<ListPage> {
    const params = new URLSearchParams();
    if (query.filter !== undefined) params.set('filter', query.filter);
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    if (query.cursor !== undefined) params.set('cursor', query.cursor);
    const search = params.size ? `?${params}` : '';
    return this.#json(await this.#call({ ...options, method: 'GET', path: `/secrets${search}` }), 200);
  }

  /**
   * Every secret's metadata matching the filter, page after page as the loop asks for them.
   * @example
   * for await (const item of broker.list({ filter: '^prod/' })) console.log(item.id, item.version);
   */
  async *list(query: Omit<ListQuery, 'cursor'> = {}, options: CallOptions = {}): AsyncGenerator<SecretMetadata> {
    let cursor: string | undefined;
    do {
      const page = await this.listPage({ ...query, ...(cursor ? { cursor } : {}) }, options);
      yield* page.items;
      cursor = page.nextCursor;
    } while (cursor);
  }

  /**
   * Each new version of a secret as it is written, until the loop stops or `signal` aborts (the
   * iteration then ends quietly). Each request waits on the broker (`Prefer: wait`), so an unchanged
   * secret costs one request per `waitSeconds`.
   * @example
   * const stop = new AbortController();
   * for await (const secret of broker.watch('prod/db/password', { signal: stop.signal })) reconnect(secret.value);
   */
  async *watch(id: string, options: WatchOptions = {}): AsyncGenerator<Secret> {
    const waitSeconds = options.waitSeconds ?? 60;
    try {
      let version = options.since ?? (await this.get(id, options)).version;
      for (;;) {
        const response = await this.#call({
          ...options,
          method: 'GET',
          path: secretPath(id),
          headers: { 'if-none-match': `"${version}"`, prefer: `wait=${waitSeconds}` },
          timeoutMs: this.#timeoutMs + waitSeconds * 1000,
        });
        if (response.status === 304) continue;
        const secret: Secret = this.#json(response, 200);
        // A broker without conditional reads answers 200 at once with the same version: stop rather than spin.
        if (secret.version === version) throw watchUnsupported();
        version = secret.version;
        yield secret;
      }
    } catch (err) {
      if (options.signal?.aborted) return;
      throw err;
    }
  }

  /** Closes idle connections; the client must not be used afterwards. */
  close(): void {
    this.#agent.destroy();
  }

  async #call(call: Call): Promise<WireResponse> {
    const response = await this.#callWithRetries(call, await this.#token.current());
    if (response.status !== 401 || !(await this.#token.refresh())) return response;
    return this.#callWithRetries(call, await this.#token.current());
  }

  async #callWithRetries(call: Call, token: string): Promise<WireResponse> {
    const body = call.body === undefined ? undefined : JSON.stringify(call.body);
    const headers = { ...call.headers, authorization: `Bearer ${token}` };
    const request = { ...call, headers, body, timeoutMs: call.timeoutMs ?? this.#timeoutMs };
    for (let attempt = 0; ; attempt++) {
      const response = await send(this.#endpoint, this.#agent, request);
      if (!RETRY_STATUSES.has(response.status) || attempt >= this.#maxRetries) return response;
      const retryAfter = response.headers['retry-after'];
      await sleep(retryDelayMs(retryAfter, attempt, this.#maxRetryDelayMs), undefined, { signal: call.signal });
    }
  }

  #expect(response: WireResponse, status: number): void {
    if (response.status !== status) throw errorFromResponse(response.status, response.body);
  }

  #json<T>(response: WireResponse, status: number): T {
    this.#expect(response, status);
    try {
      return JSON.parse(response.body.toString('utf8')) as T;
    } catch (err) {
      throw new SecretsBrokerError('invalid_response', response.status, 'the broker answered with invalid JSON', {
        cause: err,
      });
    }
  }
}

/** Each segment percent-encoded, slashes kept: the server reads both forms as the same id. */
function secretPath(id: string): string {
  return `/secrets/${id.split('/').map(encodeURIComponent).join('/')}`;
}

function ifMatchHeader(version: string | undefined): Record<string, string> {
  return version === undefined ? {} : { 'if-match': `"${version}"` };
}

function watchUnsupported(): SecretsBrokerError {
  return new SecretsBrokerError('watch_unsupported', 200, 'the broker ignored If-None-Match: it cannot watch secrets');
}
