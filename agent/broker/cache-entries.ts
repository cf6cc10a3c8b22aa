/**
 * The cache's storage: sealed entries in least-recently-used order, with an index by secret id so
 * that a delete can drop every entry of one id without scanning the rest.
 */
import type { SealedRecord } from './record-sealer.js';

/** Why an entry left the cache, as counted by the eviction metric. */
export type EvictionReason = 'capacity' | 'expired' | 'write';

/** One cached read: the sealed rendered response plus the clock readings that decide what it may still be used for. */
export interface CacheEntry {
  /** The cache key (see {@link cacheKey}), also the sealing binding. */
  readonly key: string;
  readonly id: string;
  readonly sealed: SealedRecord;
  /** The quoted version, kept in the clear (versions are not secret) so a conditional read needs no decrypt. */
  readonly etag: string;
  /** Clock reading when the record was loaded or written. */
  readonly fetchedAt: number;
  /** Fresh while `now < freshUntil` (fetch time plus this entry's jittered TTL). */
  readonly freshUntil: number;
  /** Served stale (at once, while a refresh runs) while `now <= staleUntil`; `-Infinity` when stale serving is off. */
  readonly staleUntil: number;
  /** Background refreshes of this entry that failed in a row; each one doubles the wait before the next. */
  failedRefreshes: number;
  /** No background refresh starts before this clock reading (the backoff after a failed one). */
  refreshAfter: number;
  /** Set when a refresh failed non-transiently: no longer served stale at once, only on a transient failure. */
  mustRevalidate: boolean;
}

/**
 * The key of one cached read. Ids never contain NUL (the id alphabet excludes it), so the current
 * version (`id`) and each pinned version (`id NUL version`) cannot collide.
 */
export function cacheKey(id: string, version: string | undefined): string {
  return version === undefined ? id : `${id}\u0000${version}`;
}

/** True once an entry is neither fresh nor young enough to be served stale: it only takes up room. */
export function isDead(entry: CacheEntry, now: number): boolean {
  return now >= entry.freshUntil && now > entry.staleUntil;
}

/**
 * Entries in access order (a `Map` keeps insertion order, and a touched entry is re-inserted at
 * the end), so the first entry is always the least recently used one.
 */
export class CacheEntries {
  private readonly byKey = new Map<string, CacheEntry>();
  private readonly keysById = new Map<string, Set<string>>();

  constructor(
    private readonly maxEntries: number,
    private readonly onEvicted: (reason: EvictionReason) => void,
  ) {}

  get size(): number {
    return this.byKey.size;
  }

  /** Looks an entry up without changing its place in the eviction order. */
  peek(key: string): CacheEntry | undefined {
    return this.byKey.get(key);
  }

  /** Marks an entry as just used, moving it to the far end of the eviction order. */
  touch(entry: CacheEntry): void {
    this.byKey.delete(entry.key);
    this.byKey.set(entry.key, entry);
  }

  /**
   * Inserts or replaces an entry as the most recently used one. Dead entries at the old end go
   * first (their eviction is `expired`), then, while over capacity, the least recently used live
   * ones (`capacity`).
   */
  put(entry: CacheEntry, now: number): void {
    this.byKey.delete(entry.key);
    this.byKey.set(entry.key, entry);
    this.index(entry);
    this.dropDeadOldest(now);
    // Dead entries are gone from the old end now, so whatever is oldest here is live.
    while (this.byKey.size > this.maxEntries) this.remove(this.byKey.values().next().value as CacheEntry, 'capacity');
  }

  /** Drops one entry held now (as `peek` or a walk of the entries found it), counting it as evicted for `reason`. */
  remove(entry: CacheEntry, reason: EvictionReason): void {
    this.byKey.delete(entry.key);
    // Every held entry's key is indexed under its id.
    const keys = this.keysById.get(entry.id)!;
    keys.delete(entry.key);
    if (keys.size === 0) this.keysById.delete(entry.id);
    this.onEvicted(reason);
  }

  /** Drops every entry of one id (current and pinned versions); each counts as a `write` eviction. */
  removeId(id: string): void {
    // A copy: removing the last key deletes the set from the index.
    for (const key of [...(this.keysById.get(id) ?? [])]) this.remove(this.byKey.get(key)!, 'write');
  }

  /** Empties the cache without counting evictions: nothing was pushed out, everything was let go. */
  clear(): void {
    this.byKey.clear();
    this.keysById.clear();
  }

  /** Adds the entry's key to its id's set; a replaced entry's key is there already, and adding it again is harmless. */
  private index(entry: CacheEntry): void {
    const keys = this.keysById.get(entry.id);
    if (keys === undefined) this.keysById.set(entry.id, new Set([entry.key]));
    else keys.add(entry.key);
  }

  /**
   * Expiry is lazy: no timer walks the cache. Each insert instead drops dead entries from the
   * least recently used end, stopping at the first live one, so the work stays proportional to
   * what it frees. That includes the entry just inserted when a slow load outlived its whole life.
   */
  private dropDeadOldest(now: number): void {
    for (const oldest of this.byKey.values()) {
      if (!isDead(oldest, now)) return;
      this.remove(oldest, 'expired');
    }
  }
}
