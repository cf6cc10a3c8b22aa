/** The cache's options: what the constructor refuses, and what applies when an option is left out. */
import t from 'tap';
import { SecretError } from '../../agent/backends/errors.js';
import { ReadThroughCache } from '../../agent/broker/read-through-cache.js';
import { CountingBackend, ManualClock, makeCache, secretRecord } from './read-through-cache-fixtures.js';

/** Lets a background refresh started by the last read settle. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

t.test('the constructor refuses options out of range, naming the option', async (t) => {
  // Prepare
  const valid = { ttlMs: 1, maxEntries: 1, staleIfErrorMs: 0, jitterRatio: 0 };
  const refused = (options: Partial<ConstructorParameters<typeof ReadThroughCache>[0]>, name: string) =>
    t.throws(() => new ReadThroughCache({ ...valid, ...options }), { name: 'RangeError', message: new RegExp(name) });

  // Act and Assess
  refused({ ttlMs: -1 }, 'ttlMs');
  refused({ maxEntries: 0 }, 'maxEntries');
  refused({ maxEntries: 1.5 }, 'maxEntries');
  refused({ staleIfErrorMs: Number.NaN }, 'staleIfErrorMs');
  refused({ jitterRatio: 1.5 }, 'jitterRatio');
  refused({ refreshBackoffMs: { base: -1, max: 1_000 } }, 'refreshBackoffMs');
  refused({ refreshBackoffMs: { base: 2_000, max: 1_000 } }, 'refreshBackoffMs');
  t.doesNotThrow(() => new ReadThroughCache(valid));
  t.doesNotThrow(() => new ReadThroughCache({ ...valid, jitterRatio: 1 }), 'a jitter of the whole TTL');
  t.doesNotThrow(() => new ReadThroughCache({ ...valid, refreshBackoffMs: { base: 0, max: 0 } }), 'no backoff');
  t.doesNotThrow(() => new ReadThroughCache({ ...valid, refreshBackoffMs: { base: 500, max: 500 } }), 'a fixed one');
});

t.test('without refreshBackoffMs a failed refresh waits 1 s before the next, doubling up to 30 s', async (t) => {
  // Prepare: an entry past its 1 s TTL, well inside its 300 s stale window, and a backend that is down.
  const { cache, clock, backend } = makeCache({ ttlMs: 1_000, staleIfErrorMs: 300_000 });
  backend.set(secretRecord('d', '1', 'kept'));
  await cache.read('d', undefined, backend.loader('d'));
  clock.advance(1_500);
  backend.failWith = new SecretError('backend_unavailable', 'down');
  const refreshesAt = async (advanceMs: number) => {
    clock.advance(advanceMs);
    const before = backend.calls;
    await cache.read('d', undefined, backend.loader('d'));
    await settle();
    return backend.calls - before;
  };

  // Act: each pair is the last moment of a backoff, then its end.
  const attempts = [await refreshesAt(0)];
  for (const backoffMs of [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]) {
    attempts.push(await refreshesAt(backoffMs - 1), await refreshesAt(1));
  }

  // Assess
  t.same(attempts, [1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1]);
});

t.test('a cache made without event hooks still serves hits, misses, stale reads and evictions', async (t) => {
  // Prepare
  const clock = new ManualClock();
  const cache = new ReadThroughCache({
    ttlMs: 1_000,
    maxEntries: 1,
    staleIfErrorMs: 5_000,
    jitterRatio: 0,
    now: clock.now,
  });
  const backend = new CountingBackend();
  backend.set(secretRecord('q', '1', 'v'));
  backend.set(secretRecord('r', '1', 'w'));

  // Act
  const miss = await cache.read('q', undefined, backend.loader('q'));
  const hit = await cache.read('q', undefined, backend.loader('q'));
  clock.advance(1_500);
  const stale = await cache.read('q', undefined, backend.loader('q'));
  await settle();
  const evicting = await cache.read('r', undefined, backend.loader('r'));

  // Assess
  t.same([miss.cache, hit.cache, stale.cache, evicting.cache], ['miss', 'hit', 'stale', 'miss']);
  t.equal(cache.size, 1);
});
