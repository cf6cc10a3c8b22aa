/**
 * The broker's read cache: read-through, encrypted in memory, with request coalescing,
 * write-through from the broker's own writes, and stale-while-revalidate that also covers
 * transient backend failures.
 */
import type { SecretRecord } from '../backends/contract.js';
import { isTransient, SecretError } from '../backends/errors.js';
import { CacheEntries, type CacheEntry, cacheKey, type EvictionReason, isDead } from './cache-entries.js';
import { RecordSealer } from './record-sealer.js';
import { renderSecretUnit, SecretResponse, unitEtag } from './secret-response.js';

export type { EvictionReason } from './cache-entries.js';

/** What answered a read; sent to callers as `X-Cache`. */
export type CacheStatus = 'hit' | 'miss' | 'stale';

/** One reader's answer: its own copy of the rendered response, and where it came from. */
export class CachedRead {
  constructor(
    readonly response: SecretResponse,
    readonly cache: CacheStatus,
    /** whole seconds since the load that fetched it started */
    readonly ageSeconds: number,
  ) {}

  /** The record, parsed from the rendered body: for callers other than the HTTP route. */
  get record(): SecretRecord {
    return this.response.record;
  }

  get locked(): boolean {
    return this.response.locked;
  }
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
  /**
   * How old (since fetched) a record may be and still be served stale: past its TTL at once while a
   * background refresh runs, and when the backend fails transiently; 0 = never.
   */
  staleIfErrorMs: number;
  /** Each entry's TTL is `ttlMs * (1 - random() * jitterRatio)`, so a fleet does not refresh in step. */
  jitterRatio: number;
  /** Injected clock, in milliseconds. */
  now?: () => number;
  /** Injected source of [0, 1) numbers for the jitter. */
  random?: () => number;
  /** Wait after a failed background refresh of an entry, doubled after each further failure up to the max. */
  refreshBackoffMs?: { base: number; max: number };
  events?: CacheEvents;
}

export interface ReadOptions {
  /**
   * `Cache-Control: no-cache`: skip the lookup and answer what the backend holds after this call:
   * join only a load that has not started yet, never one already sent; the result refreshes the entry.
   */
  bypass?: boolean;
}

/** One backend load that every concurrent reader of the same key waits on. */
interface Flight {
  readonly id: string;
  readonly key: string;
  /** Loads the current version, which a write through the broker makes out of date. */
  readonly current: boolean;
  /** Clock reading when the load was started: the age of what it returns counts from here. */
  startedAt: number;
  /** False until the load is sent; a bypassing read may still join it until then. */
  sent: boolean;
  /** Set by a write or delete, or a newer load, while the load ran: its result must not be stored. */
  superseded: boolean;
  promise: Promise<Buffer>;
}

/** Backoff of the background refresh unless the options say otherwise. */
const DEFAULT_REFRESH_BACKOFF_MS = { base: 1_000, max: 30_000 };

const SILENT: CacheEvents = { hit() {}, miss() {}, stale() {}, evicted() {} };

/**
 * Read-through cache of rendered reads (ETag and JSON body, see {@link renderSecretUnit}), held
 * only as XChaCha20-Poly1305 ciphertext under a per-process key and decrypted once per hit.
 *
 * - Keys are `(id, version)`; `version` undefined is the current version. A read of the current
 *   version is stored only under the current key, not also under its version: pinned-version
 *   reads are rare, and a second copy would halve the useful capacity.
 * - A record is fresh for its jittered TTL after the load that fetched it started. After that,
 *   while its age is at most `staleIfErrorMs`, it is served at once marked `stale` and one
 *   background refresh per key runs (none while a load of that key is in flight, none before the
 *   backoff after a failed refresh has passed), so no reader waits for a retry sequence while a
 *   stale value exists. A refresh that fails transiently leaves the entry in place; after any other
 *   failure the next reader loads in the foreground and meets the error (`not_found` drops every
 *   entry of the id), while the entry stays for a later transient failure.
 * - A load that fails transiently is answered from a servable entry (a bypassing read's case);
 *   otherwise errors are rethrown.
 * - Eviction: dead entries (neither fresh nor servable stale) are dropped lazily, when met by a
 *   read and from the least-recently-used end on every insert; when an insert exceeds
 *   `maxEntries`, the least recently used entry goes first. Hits and stale serves count as use.
 * - Concurrent reads of one key share one load (also with `ttlMs` 0, which otherwise keeps
 *   nothing). A failed load rejects every reader with the same error. `remember` and `forget`
 *   detach the loads of that id already in flight, so an older result never replaces a newer write;
 *   a bypassing read that starts a new load detaches the older one for the same reason.
 *
 * @example
 * const cache = new ReadThroughCache({ ttlMs: 60_000, maxEntries: 1000, staleIfErrorMs: 300_000, jitterRatio: 0.1 });
 * const read = await cache.read('prod/db', undefined, () => backend.get('prod/db', undefined));
 * reply.header('etag', read.response.etag).send(read.response.body);
 */
export class ReadThroughCache {
  private readonly ttlMs: number;
  private readonly staleIfErrorMs: number;
  private readonly jitterRatio: number;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly backoff: { base: number; max: number };
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
    this.backoff = options.refreshBackoffMs ?? DEFAULT_REFRESH_BACKOFF_MS;
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
    if (options?.bypass === true) {
      const pending = this.flights.get(key);
      return this.awaitFlight(pending?.sent === false ? pending : this.startFlight(id, version, key, load, true));
    }
    const cached = this.fromEntry(version, key, load);
    if (cached !== undefined) return Promise.resolve(cached);
    return this.awaitFlight(this.flights.get(key) ?? this.startFlight(id, version, key, load, false));
  }

  /**
   * Answers a conditional read from a fresh entry without decrypting anything: the ETag of the
   * current version of `id` when a fresh entry holds it and `matches` accepts it (counted as a hit).
   * Undefined otherwise, counting nothing, so that the plain `read` that follows counts once.
   */
  freshMatch(id: string, matches: (etag: string) => boolean): { etag: string; ageSeconds: number } | undefined {
    const entry = this.entries.peek(cacheKey(id, undefined));
    const now = this.now();
    if (entry === undefined || now >= entry.freshUntil || !matches(entry.etag)) return undefined;
    this.entries.touch(entry);
    this.events.hit();
    return { etag: entry.etag, ageSeconds: ageSeconds(entry, now) };
  }

  /**
   * The current version of `id` from a fresh entry (counted as a hit), without waiting for
   * anything; undefined, counting nothing, when the entry is missing, stale or expired, so that
   * the full `read` that follows counts once.
   */
  freshRead(id: string): CachedRead | undefined {
    const entry = this.entries.peek(cacheKey(id, undefined));
    if (entry === undefined) return undefined;
    const now = this.now();
    if (now >= entry.freshUntil) return undefined;
    this.events.hit();
    return this.serve(entry, 'hit', now);
  }

  /** After a successful create/put through this broker: the record becomes the current entry at once (fresh). */
  remember(record: SecretRecord): void {
    this.detachFlights((flight) => flight.id === record.id && flight.current);
    if (this.ttlMs === 0) return;
    // Pinned-version entries of this id stay: versions are immutable.
    this.store(record.id, cacheKey(record.id, undefined), renderSecretUnit(record), this.now());
  }

  /** After a delete (or an unknown outcome of a write): drop every entry of the id, current and versions. */
  forget(id: string): void {
    this.detachFlights((flight) => flight.id === id);
    this.entries.removeId(id);
  }

  /**
   * Another writer moved `id` to `version` (undefined: deleted): drops its entries and detaches its
   * loads, unless the current entry already holds that version (a write this broker made itself).
   */
  forgetUnlessAt(id: string, version: string | undefined): void {
    const entry = this.entries.peek(cacheKey(id, undefined));
    // Stryker disable next-line ConditionalExpression: with `version !== undefined` forced true, a delete compares the ETag with "undefined" in quotes, which no backend's version is (the file store and Vault count, AWS ids have 32 to 64 characters), so the delete still drops the entry
    if (version !== undefined && entry?.etag === `"${version}"`) return;
    this.forget(id);
  }

  /** Drops every entry and detaches every load in flight, without counting evictions. */
  clear(): void {
    this.detachFlights(() => true);
    this.entries.clear();
  }

  /** A fresh hit, or a stale serve that starts a background refresh; undefined when the entry cannot answer. */
  private fromEntry(version: string | undefined, key: string, load: () => Promise<SecretRecord>) {
    const entry = this.entries.peek(key);
    if (entry === undefined) return undefined;
    const now = this.now();
    if (now < entry.freshUntil) {
      this.events.hit();
      return this.serve(entry, 'hit', now);
    }
    if (now > entry.staleUntil) {
      this.entries.remove(entry, 'expired');
      return undefined;
    }
    // The last refresh failed for good: the next reader loads in the foreground and meets that error.
    if (entry.mustRevalidate) return undefined;
    this.refreshInBackground(entry, version, load, now);
    this.events.stale();
    return this.serve(entry, 'stale', now);
  }

  /** One refresh per key at a time, and none until the backoff after a failed one has passed. */
  private refreshInBackground(
    entry: CacheEntry,
    version: string | undefined,
    load: () => Promise<SecretRecord>,
    now: number,
  ) {
    if (this.flights.has(entry.key) || now < entry.refreshAfter) return;
    const flight = this.startFlight(entry.id, version, entry.key, load, false);
    // Marks the entry it refreshed: if a write or a newer load has replaced that entry since, the marks
    // go with the old object and change nothing.
    flight.promise.catch((err: unknown) => {
      if (!isTransient(err)) {
        entry.mustRevalidate = true;
        return;
      }
      entry.failedRefreshes++;
      const wait = Math.min(this.backoff.max, this.backoff.base * 2 ** (entry.failedRefreshes - 1));
      entry.refreshAfter = this.now() + wait;
    });
  }

  /**
   * Registers a load for `key`, replacing (and detaching) any older one. A bypassing read's load
   * is sent on the next turn of the event loop, so bypassing reads that arrive meanwhile share it.
   */
  private startFlight(
    id: string,
    version: string | undefined,
    key: string,
    load: () => Promise<SecretRecord>,
    deferred: boolean,
  ): Flight {
    const older = this.flights.get(key);
    if (older !== undefined) older.superseded = true;
    const flight = { id, key, current: version === undefined, startedAt: 0, sent: false, superseded: false } as Flight;
    // Registered before `load` runs, so a load that throws synchronously still unregisters itself.
    this.flights.set(key, flight);
    flight.promise = deferred
      ? new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.runFlight(flight, load))
      : this.runFlight(flight, load);
    return flight;
  }

  private async runFlight(flight: Flight, load: () => Promise<SecretRecord>): Promise<Buffer> {
    flight.sent = true;
    flight.startedAt = this.now();
    try {
      const unit = renderSecretUnit(await load());
      if (!flight.superseded && this.ttlMs > 0) this.store(flight.id, flight.key, unit, flight.startedAt);
      return unit;
    } catch (err) {
      if (!flight.superseded && err instanceof SecretError && err.code === 'not_found') this.dropMissing(flight);
      throw err;
    } finally {
      if (this.flights.get(flight.key) === flight) this.flights.delete(flight.key);
    }
  }

  private async awaitFlight(flight: Flight): Promise<CachedRead> {
    try {
      const unit = await flight.promise;
      this.events.miss();
      // Each reader gets its own bytes: `locked` is written into them per read.
      return new CachedRead(new SecretResponse(Buffer.from(unit)), 'miss', 0);
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
    if (now <= entry.staleUntil) return this.serve(entry, 'stale', now);
    if (isDead(entry, now)) this.entries.remove(entry, 'expired');
    return undefined;
  }

  private serve(entry: CacheEntry, cache: CacheStatus, now: number): CachedRead {
    this.entries.touch(entry);
    const response = new SecretResponse(this.sealer.open(entry.sealed, entry.key));
    return new CachedRead(response, cache, ageSeconds(entry, now));
  }

  private store(id: string, key: string, unit: Buffer, fetchedAt: number): void {
    const ttl = this.ttlMs * (1 - this.random() * this.jitterRatio);
    const entry: CacheEntry = {
      key,
      id,
      sealed: this.sealer.seal(unit, key),
      etag: unitEtag(unit),
      fetchedAt,
      freshUntil: fetchedAt + ttl,
      staleUntil: this.staleIfErrorMs > 0 ? fetchedAt + this.staleIfErrorMs : Number.NEGATIVE_INFINITY,
      failedRefreshes: 0,
      refreshAfter: Number.NEGATIVE_INFINITY,
      mustRevalidate: false,
    };
    this.entries.put(entry, this.now());
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

/** Whole seconds since the load that fetched the entry started. */
function ageSeconds(entry: CacheEntry, now: number): number {
  return Math.max(0, Math.floor((now - entry.fetchedAt) / 1000));
}

function checkOptions(options: ReadThroughCacheOptions): void {
  const { ttlMs, maxEntries, staleIfErrorMs, jitterRatio } = options;
  if (!(ttlMs >= 0)) throw new RangeError('cache ttlMs must be 0 or more');
  if (!Number.isInteger(maxEntries) || maxEntries < 1)
    throw new RangeError('cache maxEntries must be an integer of 1 or more');
  if (!(staleIfErrorMs >= 0)) throw new RangeError('cache staleIfErrorMs must be 0 or more');
  if (!(jitterRatio >= 0 && jitterRatio <= 1)) throw new RangeError('cache jitterRatio must be between 0 and 1');
  const backoff = options.refreshBackoffMs;
  if (backoff !== undefined && !(backoff.base >= 0 && backoff.max >= backoff.base))
    throw new RangeError('cache refreshBackoffMs needs 0 <= base <= max');
}
