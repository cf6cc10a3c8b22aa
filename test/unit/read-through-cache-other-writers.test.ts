/**
 * Another broker sharing the lock volume moved a secret to a new version or deleted it: the cache
 * drops what it holds of that id, unless its current entry is already that version.
 */
import t from 'tap';
import { makeCache, secretRecord } from './read-through-cache-fixtures.js';

t.test('a change to the version the current entry already holds keeps the entry', async (t) => {
  // Prepare: this broker's own write, seen again as a change marker.
  const { cache, backend, events } = makeCache();
  cache.remember(secretRecord('ow', '5', 'mine'));

  // Act
  cache.forgetUnlessAt('ow', '5');
  const read = await cache.read('ow', undefined, backend.loader('ow'));

  // Assess
  t.equal(read.cache, 'hit');
  t.equal(read.record.value, 'mine');
  t.same(events.evictions, []);
});

t.test('a change to another version drops the current and pinned entries of the id, and only of that id', async (t) => {
  // Prepare
  const { cache, backend, events } = makeCache();
  backend.set(secretRecord('ow', '5', 'five'));
  backend.set(secretRecord('ow', '4', 'four'), true);
  backend.set(secretRecord('other', '1', 'untouched'));
  for (const [id, version] of [
    ['ow', undefined],
    ['ow', '4'],
    ['other', undefined],
  ] as const)
    await cache.read(id, version, backend.loader(id, version));
  backend.set(secretRecord('ow', '6', 'six'));

  // Act
  cache.forgetUnlessAt('ow', '6');
  const current = await cache.read('ow', undefined, backend.loader('ow'));

  // Assess
  t.same(events.evictions, ['write', 'write']);
  t.equal(current.cache, 'miss');
  t.equal(current.record.value, 'six');
  t.equal((await cache.read('other', undefined, backend.loader('other'))).cache, 'hit');
});

t.test('a delete by another writer drops the id, and its load in flight is not stored', async (t) => {
  // Prepare
  const { cache, backend } = makeCache();
  cache.remember(secretRecord('ow', '5', 'mine'));
  backend.set(secretRecord('ow', '4', 'four'), true);
  backend.hold();
  const pinnedLoad = cache.read('ow', '4', backend.loader('ow', '4'));

  // Act
  cache.forgetUnlessAt('ow', undefined);
  backend.release();
  await pinnedLoad;

  // Assess
  t.equal(cache.size, 0);
});

t.test('a change to an id of which only pinned versions are cached drops them', async (t) => {
  // Prepare
  const { cache, backend, events } = makeCache();
  backend.set(secretRecord('ow', '4', 'four'), true);
  await cache.read('ow', '4', backend.loader('ow', '4'));

  // Act
  cache.forgetUnlessAt('ow', '5');

  // Assess
  t.same(events.evictions, ['write']);
  t.equal(cache.size, 0);
});
