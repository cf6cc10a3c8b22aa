/**
 * The domain service between the HTTP routes and a backend. It owns what every backend shares:
 * id and value rules, the access policy, per-secret write locks, version preconditions, the retry
 * layer and the read cache. It knows nothing of HTTP or of any vendor SDK.
 */
import { randomUUID } from 'node:crypto';
import type { CallOptions, SecretBackend, SecretEncoding, SecretMetadata } from '../backends/contract.js';
import { SecretError } from '../backends/errors.js';
import { AccessPolicy } from './access-policy.js';
import type { BrokerObserver } from './broker-observer.js';
import type { CachedRead, ReadThroughCache } from './read-through-cache.js';
import { type RetryPolicy, withRetry } from './retry.js';
import { assertValidId, assertValidMetadata, assertValidValue } from './secret-id.js';
import { type ListRequest, type ListResult, listSecrets } from './secret-lister.js';
import type { SecretLocking } from './secret-locks.js';

export interface SecretBrokerOptions {
  backend: SecretBackend;
  locks: SecretLocking;
  cache: ReadThroughCache;
  retry: RetryPolicy;
  policy?: AccessPolicy;
  observer?: BrokerObserver;
}

export interface CreateRequest {
  id: string;
  value: string;
  encoding?: SecretEncoding;
  description?: string;
  tags?: Record<string, string>;
}

export interface UpdateRequest {
  value: string;
  encoding?: SecretEncoding;
  description?: string;
  tags?: Record<string, string>;
  /** The version the caller last saw (If-Match); the write fails with 412 if it moved on. */
  ifMatch?: string;
}

export interface DeleteRequest {
  force?: boolean;
  ifMatch?: string;
}

export interface ReadRequest {
  version?: string;
  /** Skip the cache lookup (Cache-Control: no-cache); the fresh value refreshes the cache. */
  bypassCache?: boolean;
}

/** A read whose rendered body already says whether the secret is locked (`read.locked`). */
export type SecretRead = CachedRead;
export type ListedSecret = SecretMetadata & { locked: boolean };

export class SecretBroker {
  readonly #backend: SecretBackend;
  readonly #locks: SecretLocking;
  readonly #cache: ReadThroughCache;
  readonly #retry: RetryPolicy;
  readonly #policy: AccessPolicy;
  readonly #observer: BrokerObserver;

  constructor(options: SecretBrokerOptions) {
    this.#backend = options.backend;
    this.#locks = options.locks;
    this.#cache = options.cache;
    this.#retry = options.retry;
    this.#policy = options.policy ?? new AccessPolicy();
    this.#observer = options.observer ?? {};
    this.#locks.start?.();
  }

  get backendKind(): string {
    return this.#backend.kind;
  }

  async read(id: string, request: ReadRequest = {}): Promise<SecretRead> {
    assertValidId(id);
    this.#policy.assertAllowed('read', id);
    const load = () => this.#call('get', (o) => this.#backend.get(id, request.version, o));
    const read = await this.#cache.read(id, request.version, load, { bypass: request.bypassCache === true });
    // From memory: held here, or seen on the lock volume by its last background scan.
    read.response.setLocked(this.#locks.lockedNow(id));
    return read;
  }

  async create(request: CreateRequest): Promise<SecretMetadata> {
    assertValidId(request.id);
    const encoding = request.encoding ?? 'utf8';
    assertValidValue(request.value, encoding);
    assertValidMetadata(request);
    this.#policy.assertAllowed('create', request.id);
    return this.#underLock(request.id, async (signal) => {
      const input = { ...request, encoding };
      const created = await this.#call('create', (o) => this.#backend.create(input, o), signal, randomUUID());
      this.#cache.remember({ ...created, value: request.value });
      return created;
    });
  }

  async update(id: string, request: UpdateRequest): Promise<SecretMetadata> {
    assertValidId(id);
    const encoding = request.encoding ?? 'utf8';
    assertValidValue(request.value, encoding);
    assertValidMetadata(request);
    this.#policy.assertAllowed('update', id);
    return this.#underLock(id, async (signal) => {
      const current = await this.#currentVersion(id, request.ifMatch, signal);
      const { ifMatch: _ifMatch, ...fields } = request;
      const input = { ...fields, encoding, ifVersion: current };
      const updated = await this.#call('put', (o) => this.#backend.put(id, input, o), signal, randomUUID());
      this.#cache.remember({ ...updated, value: request.value });
      return updated;
    });
  }

  async remove(id: string, request: DeleteRequest = {}): Promise<void> {
    assertValidId(id);
    this.#policy.assertAllowed('delete', id);
    const force = request.force === true;
    await this.#underLock(id, async (signal) => {
      const current = await this.#call('describe', (o) => this.#backend.describe(id, o), signal);
      // A recoverable delete hides the secret; only a forced delete may still reach it.
      if (current.pendingDeletion && !force) throw new SecretError('not_found', `secret '${id}' does not exist`);
      if (request.ifMatch !== undefined && request.ifMatch !== current.version) throw preconditionFailed(id);
      const input = { force, ...(current.pendingDeletion ? {} : { ifVersion: current.version }) };
      await this.#call('delete', (o) => this.#backend.delete(id, input, o), signal, randomUUID());
      this.#cache.forget(id);
    });
  }

  /** Metadata only, never values; ids filtered with RE2 semantics and paged with an opaque cursor. */
  async list(request: ListRequest): Promise<{ items: ListedSecret[]; nextCursor?: string }> {
    const page: ListResult = await listSecrets(
      (query) => this.#call('list', (o) => this.#backend.listPage(query, o)),
      request,
    );
    const visible = page.items.filter((item) => this.#policy.allows('list', item.id));
    const items = visible.map((item) => ({ ...item, locked: this.#locks.lockedNow(item.id) }));
    return page.nextCursor ? { items, nextCursor: page.nextCursor } : { items };
  }

  /** One attempt, no retries: a readiness probe wants the current truth, quickly. */
  async ready(): Promise<void> {
    await this.#call('ready', (o) => this.#backend.ready(o), undefined, undefined, { ...this.#retry, maxAttempts: 1 });
  }

  /** Releases every held lock and closes the backend: the last step of a graceful shutdown. */
  async close(): Promise<void> {
    this.#locks.stop?.();
    await this.#locks.releaseAll();
    this.#cache.clear();
    await this.#backend.close();
  }

  async #currentVersion(id: string, ifMatch: string | undefined, signal: AbortSignal): Promise<string> {
    const current = await this.#call('describe', (o) => this.#backend.describe(id, o), signal);
    if (current.pendingDeletion) throw new SecretError('not_found', `secret '${id}' does not exist`);
    if (ifMatch !== undefined && ifMatch !== current.version) throw preconditionFailed(id);
    return current.version;
  }

  /**
   * Runs a write under the secret's lock. If the write's outcome is unknown (it failed after the
   * backend may have applied it), the cache entry is dropped so no stale value outlives it.
   */
  async #underLock<T>(id: string, write: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const lock = await this.#locks.acquire(id);
    try {
      return await write(lock.signal);
    } catch (err) {
      this.#cache.forget(id);
      if (lock.signal.aborted) throw lock.signal.reason;
      throw err;
    } finally {
      await lock.release();
    }
  }

  /** One backend operation through the retry layer, observed for metrics. */
  async #call<T>(
    operation: string,
    run: (options: CallOptions) => Promise<T>,
    outer?: AbortSignal,
    requestToken?: string,
    policy: RetryPolicy = this.#retry,
  ): Promise<T> {
    const started = performance.now();
    try {
      const result = await withRetry(
        policy,
        (signal) => run({ signal, ...(requestToken ? { requestToken } : {}) }),
        { onRetry: (err) => this.#observer.backendRetry?.(operation, err) },
        undefined,
        outer,
      );
      this.#observer.backendCall?.(operation, 'ok', (performance.now() - started) / 1000);
      return result;
    } catch (err) {
      const code = err instanceof SecretError ? err.code : 'internal';
      this.#observer.backendCall?.(operation, code, (performance.now() - started) / 1000);
      throw err;
    }
  }
}

function preconditionFailed(id: string): SecretError {
  return new SecretError('precondition_failed', `secret '${id}' has changed since the version given in If-Match`);
}
