/**
 * The broker's read cache: read-through, encrypted in memory, with request coalescing,
 * write-through from the broker's own writes and stale-if-error for transient backend failures.
 */
import type { SecretRecord } from '../backends/contract.js';
import { isTransient, SecretError } from '../backends/errors.js';
import { CacheEntries, type CacheEntry, cacheKey, type EvictionReason, isDead } from './cache-entries.js';
import { RecordSealer } from './record-sealer.js';

export type { EvictionReason } from './cache-entries.js';

/** What answered a read; sent to callers as `X-Cache`. */
export type CacheStatus = 'hit' | 'miss' | 'stale';

export interface CachedRead {
  record: SecretRecord;
  cache: CacheStatus;
  /** whole seconds since fetched */
  ageSeconds: number;
}

/** Hooks for metrics. Every read that returns or throws fires exactly one of hit, miss or stale. */
export interface CacheEvents {
  hit(): void;
  miss(): void;
  stale(): void;
  evicted(reason: EvictionReason): void;
}

export interface ReadThroughCacheOptions {
  /** How long a loaded or written record is served without asking the backend; 0 keeps nothing. */
  ttlMs: number;
  /** Most entries held (each current secret and each pinned version is one entry). */
  maxEntries: number;
  /** How old (since fetched) a record may be and still be served while the backend fails transiently; 0 = never. */
  staleIfErrorMs: number;
  /** Each entry's TTL is `ttlMs * (1 - random() * jitterRatio)`, so a fleet does not refresh in step. */
  jitterRatio: number;
  /** Injected clock, in milliseconds. */
  now?: () => number;
  /** Injected source of [0, 1) numbers for the jitter. */
  random?: () => number;
  events?: CacheEvents;
}

export interface ReadOptions {
  /** `Cache-Control: no-cache`: skip the lookup, load (or join a load in flight) and refresh the entry. */
  bypass?: boolean;
}

/** One backend load that every concurrent reader of the same key waits on. */
interface Flight {
  readonly id: string;
  readonly key: string;
  /** Loads the current version, which a write through the broker makes out of date. */
  readonly current: boolean;
  /** Set by a write or delete that happened while the load ran: its result must not be stored. */
  superseded: boolean;
  promise: Promise<SecretRecord>;
}

const SILENT: CacheEvents = { hit() {}, miss() {}, stale() {}, evicted() {} };

/**
 * Read-through cache of secret records, held only as AES-256-GCM ciphertext under a per-process
 * key and decrypted on the way out.
 *
 * - Keys are `(id, version)`; `version` undefined is the current version. A read of the current
 *   version is stored only under the current key, not also under its version: pinned-version
 *   reads are rare, and a second copy would halve the useful capacity.
 * - A record is fresh for its jittered TTL after it was fetched. After that it is invisible to
 *   hits but kept while its age since fetch is at most `staleIfErrorMs` (`age <= staleIfErrorMs`,
 *   measured when the load fails), so a transient failure (see `isTransient`) can still be
 *   answered with it, marked `stale`. Non-transient errors are rethrown; `not_found` also drops
 *   the entry (for the current version, every entry of the id).
 * - Eviction: dead entries (neither fresh nor servable stale) are dropped lazily, when met by a
 *   read and from the least-recently-used end on every insert; when an insert exceeds
 *   `maxEntries`, the least recently used entry goes first. Hits and stale serves count as use.
 * - Concurrent reads of one key share one load (also with `ttlMs` 0, which otherwise keeps
 *   nothing). A failed load rejects every reader with the same error. `remember` and `forget`
 *   detach the loads of that id already in flight, so an older result never replaces a newer write.
 *
 * @example
 * const cache = new ReadThroughCache({ ttlMs: 60_000, maxEntries: 1000, staleIfErrorMs: 300_000, jitterRatio: 0.1 });
 * const { record, cache: status, ageSeconds } = await cache.read('prod/db', undefined, () => backend.get('prod/db', undefined));
 */
export class ReadThroughCache {
  private readonly ttlMs: number;
  private readonly staleIfErrorMs: number;
  private readonly jitterRatio: number;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly events: CacheEvents;
  private readonly sealer = new RecordSealer();
  private readonly entries: CacheEntries;
  private readonly flights = new Map<string, Flight>();

  constructor(options: ReadThroughCacheOptions) {
    checkOptions(options);
    this.ttlMs = options.ttlMs;
    this.staleIfErrorMs = options.staleIfErrorMs;
    this.jitterRatio = options.jitterRatio;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.events = options.events ?? SILENT;
    this.entries = new CacheEntries(options.maxEntries, (reason) => this.events.evicted(reason));
  }

  /** Entries held, including expired ones not yet dropped. */
  get size(): number {
    return this.entries.size;
  }

  /** version undefined = the current version. bypass (Cache-Control: no-cache) skips the lookup but refreshes the entry. */
  read(
    id: string,
    version: string | undefined,
    load: () => Promise<SecretRecord>,
    options?: ReadOptions,
  ): Promise<CachedRead> {
    const key = cacheKey(id, version);
    const hit = options?.bypass === true ? undefined : this.freshHit(key);
    if (hit !== undefined) {
      this.events.hit();
      return Promise.resolve(hit);
    }
    const flight = this.flights.get(key) ?? this.startFlight(id, version, key, load);
    return this.awaitFlight(flight);
  }

  /** After a successful create/put through this broker: the record becomes the current entry at once (fresh). */
  remember(record: SecretRecord): void {
    this.detachFlights((flight) => flight.id === record.id && flight.current);
    if (this.ttlMs === 0) return;
    // Pinned-version entries of this id stay: versions are immutable.
    this.store(record.id, cacheKey(record.id, undefined), record);
  }

  /** After a delete (or an unknown outcome of a write): drop every entry of the id, current and versions. */
  forget(id: string): void {
    this.detachFlights((flight) => flight.id === id);
    this.entries.removeId(id);
  }

  /** Drops every entry and detaches every load in flight, without counting evictions. */
  clear(): void {
    this.detachFlights(() => true);
    this.entries.clear();
  }

  private freshHit(key: string): CachedRead | undefined {
    const entry = this.entries.peek(key);
    if (entry === undefined) return undefined;
    const now = this.now();
    if (now < entry.freshUntil) return this.serve(entry, 'hit', now);
    if (isDead(entry, now)) this.entries.remove(entry, 'expired');
    return undefined;
  }

  private startFlight(id: string, version: string | undefined, key: string, load: () => Promise<SecretRecord>) {
    const flight = { id, key, current: version === undefined, superseded: false } as Flight;
    // Registered before `load` runs, so a load that throws synchronously still unregisters itself.
    this.flights.set(key, flight);
    flight.promise = this.runFlight(flight, load);
    return flight;
  }

  private async runFlight(flight: Flight, load: () => Promise<SecretRecord>): Promise<SecretRecord> {
    try {
      const record = await load();
      if (!flight.superseded && this.ttlMs > 0) this.store(flight.id, flight.key, record);
      return record;
    } catch (err) {
      if (!flight.superseded && err instanceof SecretError && err.code === 'not_found') this.dropMissing(flight);
      throw err;
    } finally {
      if (this.flights.get(flight.key) === flight) this.flights.delete(flight.key);
    }
  }

  private async awaitFlight(flight: Flight): Promise<CachedRead> {
    try {
      const record = await flight.promise;
      this.events.miss();
      // Each reader gets its own object, so one caller's changes cannot reach another.
      return { record: { ...record }, cache: 'miss', ageSeconds: 0 };
    } catch (err) {
      const stale = isTransient(err) ? this.staleFallback(flight.key) : undefined;
      if (stale === undefined) {
        this.events.miss();
        throw err;
      }
      this.events.stale();
      return stale;
    }
  }

  private staleFallback(key: string): CachedRead | undefined {
    const entry = this.entries.peek(key);
    if (entry === undefined) return undefined;
    const now = this.now();
    if (this.staleIfErrorMs > 0 && now - entry.fetchedAt <= this.staleIfErrorMs) return this.serve(entry, 'stale', now);
    if (isDead(entry, now)) this.entries.remove(entry, 'expired');
    return undefined;
  }

  private serve(entry: CacheEntry, cache: CacheStatus, now: number): CachedRead {
    this.entries.touch(entry);
    const record = this.sealer.open(entry.sealed, entry.key);
    return { record, cache, ageSeconds: Math.max(0, Math.floor((now - entry.fetchedAt) / 1000)) };
  }

  private store(id: string, key: string, record: SecretRecord): void {
    const now = this.now();
    const ttl = this.ttlMs * (1 - this.random() * this.jitterRatio);
    const entry: CacheEntry = {
      key,
      id,
      sealed: this.sealer.seal(record, key),
      fetchedAt: now,
      freshUntil: now + ttl,
      staleUntil: this.staleIfErrorMs > 0 ? now + this.staleIfErrorMs : Number.NEGATIVE_INFINITY,
    };
    this.entries.put(entry, now);
  }

  /** The backend says it is gone: a missing current version means every version of the id is gone. */
  private dropMissing(flight: Flight): void {
    if (flight.current) {
      this.entries.removeId(flight.id);
      return;
    }
    const entry = this.entries.peek(flight.key);
    if (entry !== undefined) this.entries.remove(entry, 'write');
  }

  /** Detached loads still answer the readers that joined them, but no longer store, drop or get joined. */
  private detachFlights(matches: (flight: Flight) => boolean): void {
    for (const flight of this.flights.values()) {
      if (!matches(flight)) continue;
      flight.superseded = true;
      this.flights.delete(flight.key);
    }
  }
}

function checkOptions(options: ReadThroughCacheOptions): void {
  const { ttlMs, maxEntries, staleIfErrorMs, jitterRatio } = options;
  if (!(ttlMs >= 0)) throw new RangeError('cache ttlMs must be 0 or more');
  if (!Number.isInteger(maxEntries) || maxEntries < 1)
    throw new RangeError('cache maxEntries must be an integer of 1 or more');
  if (!(staleIfErrorMs >= 0)) throw new RangeError('cache staleIfErrorMs must be 0 or more');
  if (!(jitterRatio >= 0 && jitterRatio <= 1)) throw new RangeError('cache jitterRatio must be between 0 and 1');
}
