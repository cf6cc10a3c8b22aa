import t from 'tap';
import { SecretError } from '../../agent/backends/errors.js';
import { makeCache, secretRecord } from './read-through-cache-fixtures.js';

t.test('remember makes a written record the fresh current entry and keeps pinned versions', async (t) => {
  // Prepare
  const { cache, clock, backend } = makeCache({ ttlMs: 10_000 });
  backend.set(secretRecord('svc', '1', 'first'));
  backend.set(secretRecord('svc', '1', 'first'), true);
  await cache.read('svc', undefined, backend.loader('svc'));
  await cache.read('svc', '1', backend.loader('svc', '1'));
  clock.advance(9_000);

  // Act
  cache.remember(secretRecord('svc', '2', 'second'));
  clock.advance(5_000);
  const current = await cache.read('svc', undefined, backend.loader('svc'));
  const pinned = await cache.read('svc', '1', backend.loader('svc', '1'));

  // Assess
  t.equal(current.cache, 'hit', 'fresh from the write, though the read it replaced has expired');
  t.equal(current.record.value, 'second');
  t.equal(current.record.version, '2');
  t.equal(current.ageSeconds, 5);
  t.equal(pinned.record.value, 'first');
  t.equal(backend.calls, 3, 'only the expired pinned version was loaded again');
});

t.test('forget drops the current and every pinned version of the id, and only of that id', async (t) => {
  // Prepare
  const { cache, backend, events } = makeCache();
  backend.set(secretRecord('gone', '2', 'cur'));
  backend.set(secretRecord('gone', '1', 'old'), true);
  backend.set(secretRecord('gone/child', '1', 'child'));
  await cache.read('gone', undefined, backend.loader('gone'));
  await cache.read('gone', '1', backend.loader('gone', '1'));
  await cache.read('gone/child', undefined, backend.loader('gone/child'));

  // Act
  cache.forget('gone');
  const child = await cache.read('gone/child', undefined, backend.loader('gone/child'));
  await cache.read('gone', undefined, backend.loader('gone'));

  // Assess
  t.same(events.evictions, ['write', 'write']);
  t.equal(child.cache, 'hit');
  t.equal(backend.calls, 4, 'the forgotten id is loaded again');
});

t.test('a load that resolves after a write does not replace the written record', async (t) => {
  // Prepare
  const { cache, backend } = makeCache();
  backend.set(secretRecord('race', '1', 'older'));
  backend.hold();
  const inFlight = cache.read('race', undefined, backend.loader('race'));

  // Act
  cache.remember(secretRecord('race', '2', 'newer'));
  backend.release();
  const early = await inFlight;
  const after = await cache.read('race', undefined, backend.loader('race'));

  // Assess
  t.equal(early.record.value, 'older', 'the reader that asked before the write gets the load it joined');
  t.equal(after.cache, 'hit');
  t.equal(after.record.value, 'newer');
  t.equal(backend.calls, 1);
});

t.test('a read after forget does not join a load started before it, and the old load is not stored', async (t) => {
  // Prepare
  const { cache, backend } = makeCache();
  backend.set(secretRecord('del', '1', 'before'));
  backend.hold();
  const beforeDelete = cache.read('del', undefined, backend.loader('del'));

  // Act
  cache.forget('del');
  backend.set(secretRecord('del', '9', 'recreated'));
  const afterDelete = cache.read('del', undefined, backend.loader('del'));
  backend.release();
  await beforeDelete;
  const next = await afterDelete;
  const cached = await cache.read('del', undefined, backend.loader('del'));

  // Assess
  t.equal(backend.calls, 2);
  t.equal(next.record.value, 'recreated');
  t.equal(cached.cache, 'hit');
  t.equal(cached.record.value, 'recreated');
});

t.test('a pinned-version load in flight during a write is still stored, since versions never change', async (t) => {
  // Prepare
  const { cache, backend } = makeCache();
  backend.set(secretRecord('imm', '1', 'v1'), true);
  backend.hold();
  const pinned = cache.read('imm', '1', backend.loader('imm', '1'));

  // Act
  cache.remember(secretRecord('imm', '2', 'v2'));
  backend.release();
  await pinned;
  const again = await cache.read('imm', '1', backend.loader('imm', '1'));

  // Assess
  t.equal(again.cache, 'hit');
  t.equal(again.record.value, 'v1');
});

t.test('clear drops every entry without counting evictions, and detaches loads in flight', async (t) => {
  // Prepare
  const { cache, backend, events } = makeCache();
  backend.set(secretRecord('c1', '1', 'one'));
  backend.set(secretRecord('c2', '1', 'two'));
  await cache.read('c1', undefined, backend.loader('c1'));
  backend.hold();
  const inFlight = cache.read('c2', undefined, backend.loader('c2'));

  // Act
  cache.clear();
  backend.release();
  await inFlight;

  // Assess
  t.equal(cache.size, 0);
  t.same(events.evictions, []);
});

t.test('a write or delete of one id leaves the loads of other ids in flight to be cached', async (t) => {
  // Prepare
  const { cache, backend } = makeCache();
  backend.set(secretRecord('bystander', '1', 'kept'));
  backend.hold();
  const inFlight = cache.read('bystander', undefined, backend.loader('bystander'));

  // Act
  cache.remember(secretRecord('written', '2', 'w'));
  cache.forget('deleted');
  backend.release();
  await inFlight;
  const later = await cache.read('bystander', undefined, backend.loader('bystander'));

  // Assess
  t.equal(later.cache, 'hit');
  t.equal(backend.calls, 1);
});

t.test('a not_found from a load that started before the secret was created keeps the created record', async (t) => {
  // Prepare: the read's load is on its way while the create goes through the broker.
  const { cache, backend } = makeCache();
  backend.failWith = new SecretError('not_found', "secret 'born' does not exist");
  backend.hold();
  const earlyRead = cache.read('born', undefined, backend.loader('born'));

  // Act
  cache.remember(secretRecord('born', '1', 'created'));
  backend.release();
  const early = await earlyRead.catch((err: unknown) => err);
  const later = await cache.read('born', undefined, backend.loader('born'));

  // Assess
  t.match(early, { code: 'not_found' }, 'the early reader gets the answer of the load it joined');
  t.equal(later.cache, 'hit');
  t.equal(later.record.value, 'created');
});

t.test('a write makes its entry the most recently used, so older reads are evicted before it', async (t) => {
  // Prepare
  const { cache, backend } = makeCache({ maxEntries: 2 });
  for (const id of ['a', 'b', 'c']) backend.set(secretRecord(id, '1', id));
  await cache.read('a', undefined, backend.loader('a'));
  await cache.read('b', undefined, backend.loader('b'));

  // Act
  cache.remember(secretRecord('a', '2', 'written'));
  await cache.read('c', undefined, backend.loader('c'));

  // Assess
  const a = await cache.read('a', undefined, backend.loader('a'));
  t.same([a.cache, a.record.value], ['hit', 'written']);
  t.equal((await cache.read('b', undefined, backend.loader('b'))).cache, 'miss', 'b was the one evicted');
});
