/**
 * Answers from a fresh entry with nothing to wait for: a conditional read's matching ETag, and the
 * record for a plain read of the current version; each counted once as a hit, and nothing otherwise.
 */
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

t.test('a fresh read answers the current record from a fresh entry and counts one hit', async (t) => {
  // Prepare
  const { cache, clock, events } = makeCache();
  cache.remember(secretRecord('f', '3', 'at hand'));
  clock.advance(1_500);

  // Act
  const read = cache.freshRead('f');

  // Assess
  t.equal(read?.cache, 'hit');
  t.equal(read?.ageSeconds, 1);
  t.same(read?.record, secretRecord('f', '3', 'at hand'));
  t.same([events.hits, events.misses, events.stales], [1, 0, 0]);
});

t.test('a fresh read answers nothing for a missing, pinned-only or expired entry, and starts no load', async (t) => {
  // Prepare
  const { cache, clock, backend, events } = makeCache({ ttlMs: 1_000 });
  backend.set(secretRecord('p', '1', 'pinned'), true);
  await cache.read('p', '1', backend.loader('p', '1'));
  cache.remember(secretRecord('e', '1', 'expiring'));
  const callsBefore = backend.calls;

  // Act
  const missing = cache.freshRead('m');
  const pinnedOnly = cache.freshRead('p');
  clock.advance(1_000);
  const atTtlEnd = cache.freshRead('e');

  // Assess
  t.same([missing, pinnedOnly, atTtlEnd], [undefined, undefined, undefined]);
  t.same([events.hits, events.stales], [0, 0]);
  t.equal(backend.calls, callsBefore, 'a stale entry is left to the full read, which refreshes it');
  t.equal(cache.size, 2);
});

t.test('a fresh read counts as a use, so the entry outlives less recently used ones', async (t) => {
  // Prepare
  const { cache, backend } = makeCache({ maxEntries: 2 });
  cache.remember(secretRecord('a', '1', 'a'));
  cache.remember(secretRecord('b', '1', 'b'));
  backend.set(secretRecord('c', '1', 'c'));

  // Act
  cache.freshRead('a');
  await cache.read('c', undefined, backend.loader('c'));

  // Assess
  t.equal(cache.freshRead('a')?.record.value, 'a');
  t.equal(cache.freshRead('b'), undefined, 'b was the one evicted');
});
