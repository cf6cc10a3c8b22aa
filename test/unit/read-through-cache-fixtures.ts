/**
 * Test doubles for the read-through cache tests: a hand-driven clock, a counting backend load that
 * can be held open, an event recorder, and a walk of everything the cache holds.
 */
import type { SecretRecord } from '../../agent/backends/contract.js';
import {
  type CacheEvents,
  type EvictionReason,
  ReadThroughCache,
  type ReadThroughCacheOptions,
} from '../../agent/broker/read-through-cache.js';

/** A clock that only moves when the test says so. */
export class ManualClock {
  ms = 1_000_000;
  readonly now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

/** Counts every event the cache fires. */
export class EventTally implements CacheEvents {
  hits = 0;
  misses = 0;
  stales = 0;
  readonly evictions: EvictionReason[] = [];
  hit(): void {
    this.hits++;
  }
  miss(): void {
    this.misses++;
  }
  stale(): void {
    this.stales++;
  }
  evicted(reason: EvictionReason): void {
    this.evictions.push(reason);
  }
}

export function secretRecord(id: string, version: string, value: string): SecretRecord {
  return { id, version, value, encoding: 'utf8', description: 'fixture', tags: { team: 'core' } };
}

/**
 * Stands in for a backend: counts calls, answers from `records` (keyed like the cache: id, or
 * id@version), and can be held so that a test decides when a load settles.
 */
export class CountingBackend {
  calls = 0;
  readonly records = new Map<string, SecretRecord>();
  failWith: unknown;
  private held: Array<() => void> | undefined;

  set(record: SecretRecord, pinned = false): void {
    this.records.set(pinned ? `${record.id}@${record.version}` : record.id, record);
  }

  /** From now on loads wait until {@link CountingBackend.release}. */
  hold(): void {
    this.held = [];
  }

  /** Lets every held load settle with whatever the backend holds (or fails with) now. */
  release(): void {
    const waiting = this.held ?? [];
    this.held = undefined;
    for (const resume of waiting) resume();
  }

  /** The `load` argument for `cache.read(id, version, ...)`. */
  loader(id: string, version?: string): () => Promise<SecretRecord> {
    return async () => {
      this.calls++;
      const held = this.held;
      if (held !== undefined) await new Promise<void>((resume) => held.push(resume));
      if (this.failWith !== undefined) throw this.failWith;
      const record = this.records.get(version === undefined ? id : `${id}@${version}`);
      if (record === undefined) throw new Error(`fixture has no record for ${id}`);
      return { ...record };
    };
  }
}

export interface CacheFixture {
  cache: ReadThroughCache;
  clock: ManualClock;
  backend: CountingBackend;
  events: EventTally;
}

/** A cache with a manual clock, no jitter and generous limits unless `overrides` says otherwise. */
export function makeCache(overrides: Partial<ReadThroughCacheOptions> = {}): CacheFixture {
  const clock = new ManualClock();
  const events = new EventTally();
  const cache = new ReadThroughCache({
    ttlMs: 60_000,
    maxEntries: 100,
    staleIfErrorMs: 300_000,
    jitterRatio: 0,
    now: clock.now,
    events,
    ...overrides,
  });
  return { cache, clock, backend: new CountingBackend(), events };
}

/** Everything reachable from `root` that can hold text: strings, and the whole memory behind every byte view. */
export function reachableTextAndBytes(root: unknown): { strings: string[]; bytes: Uint8Array[] } {
  const strings: string[] = [];
  const bytes: Uint8Array[] = [];
  const seen = new Set<object>();
  const pending: unknown[] = [root];
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value === 'string') strings.push(value);
    if ((typeof value !== 'object' && typeof value !== 'function') || value === null || seen.has(value)) continue;
    seen.add(value);
    if (ArrayBuffer.isView(value)) {
      // The whole backing store, not just the view: a pooled slice shares its slab with other buffers.
      bytes.push(new Uint8Array(value.buffer));
      continue;
    }
    if (value instanceof ArrayBuffer) bytes.push(new Uint8Array(value));
    if (value instanceof Map) for (const [key, item] of value) pending.push(key, item);
    if (value instanceof Set) for (const item of value) pending.push(item);
    for (const key of Reflect.ownKeys(value)) {
      const descriptor = Object.getOwnPropertyDescriptor(value, key);
      if (descriptor !== undefined && 'value' in descriptor) pending.push(descriptor.value);
    }
  }
  return { strings, bytes };
}
