/**
 * What the cache holds: one entry per id and version, when an insert lets dead entries go, and that
 * nothing of an entry it no longer holds stays behind.
 */
import t from 'tap';
import { SecretError } from '../../agent/backends/errors.js';
import { makeCache, reachableTextAndBytes, secretRecord } from './read-through-cache-fixtures.js';

/** Whether any string the cache can reach contains `text`. */
const reachable = (root: unknown, text: string) =>
  reachableTextAndBytes(root).strings.some((found) => found.includes(text));

t.test('two pinned versions of one id are cached apart from each other and from the current version', async (t) => {
  // Prepare
  const { cache, backend } = makeCache();
  backend.set(secretRecord('app', '3', 'three'));
  backend.set(secretRecord('app', '1', 'one'), true);
  backend.set(secretRecord('app', '2', 'two'), true);
  const readAll = () =>
    Promise.all([
      cache.read('app', '1', backend.loader('app', '1')),
      cache.read('app', '2', backend.loader('app', '2')),
      cache.read('app', undefined, backend.loader('app')),
    ]);

  // Act
  await readAll();
  const again = await readAll();

  // Assess
  t.same(
    again.map((read) => [read.cache, read.record.value]),
    [
      ['hit', 'one'],
      ['hit', 'two'],
      ['hit', 'three'],
    ],
  );
  t.equal(backend.calls, 3);
  t.equal(cache.size, 3);
});

t.test('a pinned version named "undefined" is not answered with the current version', async (t) => {
  // Prepare: any non-empty string is a valid version in a request.
  const { cache, backend } = makeCache();
  backend.set(secretRecord('odd', '4', 'current'));
  backend.set(secretRecord('odd', 'undefined', 'pinned'), true);
  await cache.read('odd', undefined, backend.loader('odd'));

  // Act
  const pinned = await cache.read('odd', 'undefined', backend.loader('odd', 'undefined'));

  // Assess
  t.equal(pinned.cache, 'miss');
  t.equal(pinned.record.value, 'pinned');
});

t.test('an entry at the last moment of its stale window survives an insert, one just past it does not', async (t) => {
  // Prepare
  const { cache, clock, backend, events } = makeCache({ ttlMs: 1_000, staleIfErrorMs: 2_000 });
  for (const id of ['old', 'mid', 'new']) backend.set(secretRecord(id, '1', id));
  await cache.read('old', undefined, backend.loader('old'));

  // Act
  clock.advance(2_000);
  await cache.read('mid', undefined, backend.loader('mid'));
  const evictionsAtEdge = [...events.evictions];
  clock.advance(1);
  await cache.read('new', undefined, backend.loader('new'));

  // Assess
  t.same(evictionsAtEdge, [], 'still servable stale, so still kept');
  t.same(events.evictions, ['expired']);
  t.equal(cache.size, 2);
});

t.test('with no stale window an insert keeps entries inside their TTL and drops those at its end', async (t) => {
  // Prepare
  const { cache, clock, backend, events } = makeCache({ ttlMs: 1_000, staleIfErrorMs: 0 });
  for (const id of ['a', 'b', 'c']) backend.set(secretRecord(id, '1', id));
  await cache.read('a', undefined, backend.loader('a'));

  // Act
  clock.advance(999);
  await cache.read('b', undefined, backend.loader('b'));
  const sizeInsideTtl = cache.size;
  clock.advance(1);
  await cache.read('c', undefined, backend.loader('c'));

  // Assess
  t.equal(sizeInsideTtl, 2, 'a fresh entry is not dead for lack of a stale window');
  t.same(events.evictions, ['expired'], 'a is dropped once its TTL is over');
  t.equal((await cache.read('b', undefined, backend.loader('b'))).cache, 'hit');
});

t.test('a load slower than its entry would live answers its reader and leaves nothing behind', async (t) => {
  // Prepare
  const { cache, clock, backend, events } = makeCache({ ttlMs: 1_000, staleIfErrorMs: 0 });
  backend.set(secretRecord('slow', '1', 'late'));
  backend.hold();
  const read = cache.read('slow', undefined, backend.loader('slow'));

  // Act
  clock.advance(1_500);
  backend.release();
  const answer = await read;

  // Assess
  t.equal(answer.record.value, 'late');
  t.equal(cache.size, 0);
  t.same(events.evictions, ['expired']);
});

t.test('forget drops the rest of an id after one of its entries was evicted', async (t) => {
  // Prepare: x@1 is the least recently used of three when y arrives.
  const { cache, backend, events } = makeCache({ maxEntries: 3 });
  backend.set(secretRecord('x', '3', 'cur'));
  backend.set(secretRecord('x', '1', 'one'), true);
  backend.set(secretRecord('x', '2', 'two'), true);
  backend.set(secretRecord('y', '1', 'why'));
  await cache.read('x', '1', backend.loader('x', '1'));
  await cache.read('x', '2', backend.loader('x', '2'));
  await cache.read('x', undefined, backend.loader('x'));
  await cache.read('y', undefined, backend.loader('y'));

  // Act
  cache.forget('x');

  // Assess
  t.same(events.evictions, ['capacity', 'write', 'write']);
  t.equal(cache.size, 1);
  t.equal((await cache.read('x', '2', backend.loader('x', '2'))).cache, 'miss');
});

t.test('the cache lets go of the ids of every entry it no longer holds', async (t) => {
  // Prepare: a small cache that many ids pass through, evicted for capacity, by forget and as not found.
  const { cache, backend } = makeCache({ maxEntries: 2 });
  for (let i = 0; i < 20; i++) {
    backend.set(secretRecord(`passed-${i}`, '1', 'v'));
    backend.set(secretRecord(`passed-${i}`, '0', 'v0'), true);
    await cache.read(`passed-${i}`, undefined, backend.loader(`passed-${i}`));
    await cache.read(`passed-${i}`, '0', backend.loader(`passed-${i}`, '0'));
  }
  backend.set(secretRecord('kept', '1', 'v'));
  backend.set(secretRecord('dropped', '1', 'v'));

  // Act
  await cache.read('dropped', undefined, backend.loader('dropped'));
  cache.forget('dropped');
  await cache.read('kept', undefined, backend.loader('kept'));
  backend.failWith = new SecretError('not_found', 'gone');
  await cache.read('passed-19', '0', backend.loader('passed-19', '0'), { bypass: true }).catch(() => undefined);

  // Assess
  t.ok(reachable(cache, 'kept'), 'the walk finds the ids of held entries');
  t.notOk(reachable(cache, 'passed-'), 'no id of an entry evicted or dropped is still held');
  t.notOk(reachable(cache, 'dropped'));
});

t.test('clear lets go of every id as well as every entry', async (t) => {
  // Prepare
  const { cache, backend } = makeCache();
  backend.set(secretRecord('cleared-a', '1', 'v'));
  backend.set(secretRecord('cleared-b', '1', 'v'));
  await cache.read('cleared-a', undefined, backend.loader('cleared-a'));
  await cache.read('cleared-b', undefined, backend.loader('cleared-b'));

  // Act
  cache.clear();

  // Assess
  t.equal(cache.size, 0);
  t.notOk(reachable(cache, 'cleared-'));
});

t.test("each reader's lock flag is its own: setting it on one read leaves later reads unlocked", async (t) => {
  // Prepare
  const { cache, backend } = makeCache();
  backend.set(secretRecord('lk', '1', 'v'));
  const first = await cache.read('lk', undefined, backend.loader('lk'));

  // Act
  first.response.setLocked(true);
  const second = await cache.read('lk', undefined, backend.loader('lk'));

  // Assess
  t.equal(first.locked, true);
  t.equal(second.cache, 'hit');
  t.equal(second.locked, false);
});
