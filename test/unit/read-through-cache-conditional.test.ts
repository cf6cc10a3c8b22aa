/** The cache's answer to a conditional read: a fresh, matching entry's ETag, counted once as a hit. */
import t from 'tap';
import { makeCache, secretRecord } from './read-through-cache-fixtures.js';

t.test('a fresh entry whose ETag matches answers with that ETag and counts one hit', async (t) => {
  // Prepare
  const { cache, clock, events } = makeCache();
  cache.remember(secretRecord('a', '7', 'v'));
  clock.advance(2_500);

  // Act
  const match = cache.freshMatch('a', (etag) => etag === '"7"');

  // Assess
  t.same(match, { etag: '"7"', ageSeconds: 2 });
  t.equal(events.hits, 1);
});

t.test('a mismatch, a missing entry or one past its TTL answers nothing and counts nothing', async (t) => {
  // Prepare
  const { cache, clock, events } = makeCache({ ttlMs: 1_000 });
  cache.remember(secretRecord('a', '7', 'v'));

  // Act
  const other = cache.freshMatch('a', (etag) => etag === '"8"');
  const missing = cache.freshMatch('b', () => true);
  clock.advance(1_000);
  const expired = cache.freshMatch('a', () => true);

  // Assess
  t.equal(other, undefined);
  t.equal(missing, undefined);
  t.equal(expired, undefined, 'a stale entry is left to the plain read, which may refresh it');
  t.same([events.hits, events.misses, events.stales], [0, 0, 0]);
});

t.test('a pinned version never answers for the current one', async (t) => {
  const { cache, backend } = makeCache();
  backend.set(secretRecord('a', '3', 'old'), true);
  await cache.read('a', '3', backend.loader('a', '3'));
  t.equal(
    cache.freshMatch('a', () => true),
    undefined,
  );
});

t.test('a conditional hit counts as a use, so the entry outlives less recently used ones', async (t) => {
  // Prepare
  const { cache, backend } = makeCache({ maxEntries: 2 });
  for (const id of ['a', 'b', 'c']) backend.set(secretRecord(id, '1', id));
  await cache.read('a', undefined, backend.loader('a'));
  await cache.read('b', undefined, backend.loader('b'));

  // Act
  cache.freshMatch('a', () => true);
  await cache.read('c', undefined, backend.loader('c'));

  // Assess
  t.equal((await cache.read('a', undefined, backend.loader('a'))).cache, 'hit');
  t.equal((await cache.read('b', undefined, backend.loader('b'))).cache, 'miss', 'b was the one evicted');
});
