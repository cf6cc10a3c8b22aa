/**
 * The domain service between the HTTP routes and a backend. It owns what every backend shares:
 * id and value rules, the access policy, per-secret write locks, version preconditions, the retry
 * layer and the read cache. It knows nothing of HTTP or of any vendor SDK.
 */
import { randomUUID } from 'node:crypto';
import type {
  BackendCapabilities,
  CallOptions,
  SecretBackend,
  SecretEncoding,
  SecretMetadata,
  SecretRecord,
} from '../backends/contract.js';
import { SecretError } from '../backends/errors.js';
import { AccessPolicy } from './access-policy.js';
import { BatchLoader, boundedGets, type LoadMany } from './batch-loader.js';
import type { BrokerObserver } from './broker-observer.js';
import {
  BATCH_READ_CONCURRENCY,
  type BatchReadItem,
  checkBatch,
  NotModified,
  type VersionCondition,
} from './read-forms.js';
import type { CachedRead, ReadThroughCache } from './read-through-cache.js';
import { type RetryPolicy, withRetry } from './retry.js';
import { assertValidId, assertValidMetadata, assertValidValue, isValidId } from './secret-id.js';
import { type ListRequest, type ListResult, listSecrets } from './secret-lister.js';
import type { SecretLocking } from './secret-locks.js';
import { VersionFeed, type VersionListener } from './version-feed.js';
import { type WatchEvents, WatchHub } from './watch-hub.js';

export { BATCH_READ_MAX_IDS, type BatchReadItem, NotModified, type VersionCondition } from './read-forms.js';

export interface SecretBrokerOptions {
  backend: SecretBackend;
  locks: SecretLocking;
  cache: ReadThroughCache;
  retry: RetryPolicy;
  policy?: AccessPolicy;
  observer?: BrokerObserver;
  watch?: WatchSettings;
}

export interface WatchSettings {
  /** Time between backend polls of a watched id (one poller per id, however many watch it). */
  pollIntervalMs: number;
  /** Most watches held at once; beyond it a watch is 503 `backend_unavailable`. */
  maxWatches: number;
  events?: WatchEvents;
}

/** Unless configured otherwise: a poll every 10 s per watched id, at most 1000 watches. */
const DEFAULT_WATCH: WatchSettings = { pollIntervalMs: 10_000, maxWatches: 1000 };

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
  readonly #versions = new VersionFeed();
  readonly #watches: WatchHub;

  constructor(options: SecretBrokerOptions) {
    this.#backend = options.backend;
    this.#locks = options.locks;
    this.#cache = options.cache;
    this.#retry = options.retry;
    this.#policy = options.policy ?? new AccessPolicy();
    this.#observer = options.observer ?? {};
    this.#watches = new WatchHub({
      ...(options.watch ?? DEFAULT_WATCH),
      subscribe: (id, listener) => this.#versions.subscribe(id, listener),
      // A no-cache read: it never joins a load started before it, and publishes what it finds.
      poll: (id) => this.read(id, { bypassCache: true }),
    });
    // Another broker sharing the lock volume wrote: drop what the cache holds of it, wake its watches.
    this.#locks.markers?.onChange((id, version) => {
      this.#cache.forgetUnlessAt(id, version);
      this.#versions.publish(id, version);
    });
    this.#locks.start?.();
  }

  get backendKind(): string {
    return this.#backend.kind;
  }

  async read(id: string, request: ReadRequest = {}): Promise<SecretRead> {
    assertValidId(id);
    this.#policy.assertAllowed('read', id);
    if (request.version !== undefined) this.#require('versionReads', 'read an older version: leave out ?version');
    const load = () => this.#call('get', (o) => this.#backend.get(id, request.version, o));
    const current = request.version === undefined;
    let read: SecretRead;
    try {
      read = await this.#cache.read(id, request.version, load, { bypass: request.bypassCache === true });
    } catch (err) {
      if (current && err instanceof SecretError && err.code === 'not_found') this.#versions.publish(id, undefined);
      throw err;
    }
    if (current && read.cache === 'miss') this.#learned(id, read.response.version);
    // From memory: held here, or seen on the lock volume by its last background scan.
    read.response.setLocked(this.#locks.lockedNow(id));
    return read;
  }

  /**
   * The current version of `id` when a fresh cache entry holds it and the policy allows the read:
   * an answer with nothing to wait for. Undefined whenever only {@link read} can answer (a miss, a
   * stale entry, an id or a policy that refuses, with the error that read gives).
   */
  cachedRead(id: string): SecretRead | undefined {
    if (!isValidId(id) || !this.#policy.allows('read', id)) return undefined;
    const read = this.#cache.freshRead(id);
    read?.response.setLocked(this.#locks.lockedNow(id));
    return read;
  }

  /**
   * A read that answers {@link NotModified} when the version it would return matches `condition`:
   * from a fresh cache entry without decrypting it, otherwise after a plain read.
   */
  async readIfNoneMatch(
    id: string,
    condition: VersionCondition,
    request: ReadRequest = {},
  ): Promise<SecretRead | NotModified> {
    const matches = (etag: string) => 'any' in condition || etag === `"${condition.version}"`;
    if (request.version === undefined && request.bypassCache !== true) {
      assertValidId(id);
      this.#policy.assertAllowed('read', id);
      const fresh = this.#cache.freshMatch(id, matches);
      if (fresh !== undefined) return new NotModified(fresh.etag, 'hit', fresh.ageSeconds);
    }
    const read = await this.read(id, request);
    return matches(read.response.etag) ? new NotModified(read.response.etag, read.cache, read.ageSeconds) : read;
  }

  /**
   * Reads up to {@link BATCH_READ_MAX_IDS} distinct ids: each from the cache when it can answer, the
   * rest together (one `getMany` when the backend has one, else bounded parallel `get`s). A missing,
   * forbidden or failing id becomes its own error item; the others are read all the same.
   */
  async readMany(ids: readonly string[]): Promise<BatchReadItem[]> {
    checkBatch(ids);
    const loader = new BatchLoader(this.#loadMany());
    // Every cache read starts in this turn, so the loader sees every missing id before it loads.
    return Promise.all(
      ids.map(async (id): Promise<BatchReadItem> => {
        if (!this.#policy.allows('read', id)) {
          return { id, error: new SecretError('forbidden', `policy does not allow read on secret '${id}'`) };
        }
        try {
          const read = await this.#cache.read(id, undefined, () => loader.load(id));
          if (read.cache === 'miss') this.#learned(id, read.response.version);
          read.response.setLocked(this.#locks.lockedNow(id));
          return { id, read };
        } catch (err) {
          if (!(err instanceof SecretError)) throw err;
          return { id, error: err };
        }
      }),
    );
  }

  /**
   * A watch: a conditional read of the current version held until the version differs from
   * `since` (the new read) or `waitMs` pass ({@link NotModified}). A shutdown or an aborted
   * `signal` (the caller left) ends the wait early with NotModified too.
   */
  async watch(id: string, since: string, waitMs: number, signal?: AbortSignal): Promise<SecretRead | NotModified> {
    assertValidId(id);
    this.#policy.assertAllowed('read', id);
    const deadline = Date.now() + waitMs;
    const watch = this.#watches.open(id, since);
    // Another broker's write must wake this watch however long it waits.
    const release = this.#locks.markers?.hold(id);
    try {
      for (;;) {
        const read = await this.readIfNoneMatch(id, { version: since });
        if (!(read instanceof NotModified)) return read;
        // A version published and then undone (or one the cache already held) reads as unchanged: wait on.
        if ((await watch.next(deadline, signal)) !== 'changed') return read;
      }
    } finally {
      watch.close();
      release?.();
    }
  }

  /** Shutdown: every pending watch answers unchanged now, so none outlives the drain. */
  releaseWatches(): void {
    this.#watches.releaseAll();
  }

  /** Calls `listener` with each new version of `id` this broker learns of; returns the unsubscribe. */
  onVersionChange(id: string, listener: VersionListener): () => void {
    return this.#versions.subscribe(id, listener);
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
      await this.#wrote(created.id, created.version, { ...created, value: request.value });
      return created;
    });
  }

  async update(id: string, request: UpdateRequest): Promise<SecretMetadata> {
    assertValidId(id);
    const encoding = request.encoding ?? 'utf8';
    assertValidValue(request.value, encoding);
    assertValidMetadata(request);
    this.#policy.assertAllowed('update', id);
    if (request.ifMatch !== undefined) this.#require('checkAndSet', CONDITIONAL_WRITE);
    return this.#underLock(id, async (signal) => {
      const current = await this.#currentVersion(id, request.ifMatch, signal);
      const { ifMatch: _ifMatch, ...fields } = request;
      const input = { ...fields, encoding, ifVersion: current };
      const updated = await this.#call('put', (o) => this.#backend.put(id, input, o), signal, randomUUID());
      await this.#wrote(id, updated.version, { ...updated, value: request.value });
      return updated;
    });
  }

  async remove(id: string, request: DeleteRequest = {}): Promise<void> {
    assertValidId(id);
    this.#policy.assertAllowed('delete', id);
    const force = request.force === true;
    if (!force) this.#require('recoverableDelete', 'delete recoverably: delete with ?force=true');
    if (request.ifMatch !== undefined) this.#require('checkAndSet', CONDITIONAL_WRITE);
    await this.#underLock(id, async (signal) => {
      const current = await this.#call('describe', (o) => this.#backend.describe(id, o), signal);
      // A recoverable delete hides the secret; only a forced delete may still reach it.
      if (current.pendingDeletion && !force) throw new SecretError('not_found', `secret '${id}' does not exist`);
      if (request.ifMatch !== undefined && request.ifMatch !== current.version) throw preconditionFailed(id);
      const input = { force, ...(current.pendingDeletion ? {} : { ifVersion: current.version }) };
      await this.#call('delete', (o) => this.#backend.delete(id, input, o), signal, randomUUID());
      this.#cache.forget(id);
      await this.#wrote(id, undefined);
    });
  }

  /**
   * Cancels a recoverable delete: 404 when nothing is pending deletion under the id, 409
   * `already_exists` when it is live. The restored value is read back into the cache.
   */
  async restore(id: string): Promise<SecretMetadata> {
    assertValidId(id);
    // Restoring brings an id back into use, as a create does: the same policy verb governs both.
    this.#policy.assertAllowed('create', id);
    this.#require('restore', 'restore a deleted secret');
    return this.#underLock(id, async (signal) => {
      const current = await this.#call('describe', (o) => this.#backend.describe(id, o), signal);
      if (!current.pendingDeletion) {
        throw new SecretError('already_exists', `secret '${id}' is not deleted: there is nothing to restore`);
      }
      const restored = await this.#call('restore', (o) => this.#backend.restore(id, o), signal, randomUUID());
      const record = await this.#readBack(id, signal);
      if (record === undefined) {
        await this.#wrote(id, restored.version);
        return restored;
      }
      await this.#wrote(id, record.version, record);
      const { value: _value, ...metadata } = record;
      return metadata;
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
    this.#watches.releaseAll();
    this.#locks.stop?.();
    await this.#locks.releaseAll();
    this.#cache.clear();
    await this.#backend.close();
  }

  /**
   * After a write that did not carry the value (a restore): reads it into the cache. The write has
   * happened, so a failed read only leaves the cache empty and the write's own answer stands.
   */
  async #readBack(id: string, signal: AbortSignal): Promise<SecretRecord | undefined> {
    try {
      return await this.#call('get', (o) => this.#backend.get(id, undefined, o), signal);
    } catch {
      this.#cache.forget(id);
      return undefined;
    }
  }

  /** A backend read found the current version of `id` (which the cache now holds). */
  #learned(id: string, version: string): void {
    this.#locks.markers?.track(id);
    this.#versions.publish(id, version);
  }

  /**
   * After a write under the lock: the version marker tells the brokers sharing the lock volume,
   * then `written` (the record, when the write knows its value) becomes the cached entry and the
   * watches here wake. The marker goes first: a background scan that read this id's previous
   * marker just before can then only find the previous entry in the cache, never drop the new one.
   * A marker that cannot be written does not undo the write: the others then see it at their next
   * poll or when their cache entry expires.
   */
  async #wrote(id: string, version: string | undefined, written?: SecretRecord): Promise<void> {
    const markers = this.#locks.markers;
    if (markers !== undefined) {
      markers.track(id);
      await markers.write(id, version).catch((err: unknown) => this.#observer.markerFailed?.(err));
    }
    if (written !== undefined) this.#cache.remember(written);
    this.#versions.publish(id, version);
  }

  /** Refuses, as the caller's mistake (400), a request the store cannot carry out, naming what. */
  #require(capability: keyof BackendCapabilities, what: string): void {
    if (this.#backend.capabilities[capability]) return;
    throw new SecretError('invalid_request', `the ${this.#backend.kind} backend cannot ${what}`);
  }

  #loadMany(): LoadMany {
    const backend = this.#backend;
    if (backend.capabilities.batchRead && backend.getMany !== undefined) {
      return (ids) => this.#call('getMany', (o) => backend.getMany!(ids, o));
    }
    return (ids) =>
      boundedGets(ids, BATCH_READ_CONCURRENCY, (id) => this.#call('get', (o) => backend.get(id, undefined, o)));
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

const CONDITIONAL_WRITE = 'make a write conditional on a version: leave out If-Match';

function preconditionFailed(id: string): SecretError {
  return new SecretError('precondition_failed', `secret '${id}' has changed since the version given in If-Match`);
}
