import t from 'tap';
import { SecretError, type SecretErrorCode } from '../../agent/backends/errors.js';
import { makeCache, secretRecord } from './read-through-cache-fixtures.js';

/** A cache holding `id` (value `kept`) fetched at the clock's start, with a 1 s TTL and a 5 s stale window. */
async function cacheWithExpiringEntry(id: string) {
  const fixture = makeCache({ ttlMs: 1_000, staleIfErrorMs: 5_000 });
  fixture.backend.set(secretRecord(id, '1', 'kept'));
  await fixture.cache.read(id, undefined, fixture.backend.loader(id));
  return fixture;
}

for (const code of ['throttled', 'backend_unavailable', 'backend_timeout'] as const) {
  t.test(`an expired entry is served as stale when the backend fails with ${code}`, async (t) => {
    // Prepare
    const { cache, clock, backend, events } = await cacheWithExpiringEntry('s');
    backend.failWith = new SecretError(code, 'backend trouble');
    clock.advance(3_500);

    // Act
    const read = await cache.read('s', undefined, backend.loader('s'));

    // Assess
    t.equal(read.cache, 'stale');
    t.equal(read.record.value, 'kept');
    t.equal(read.ageSeconds, 3);
    t.same([events.hits, events.misses, events.stales], [0, 1, 1]);
  });
}

t.test('stale serving ends once the age since fetch exceeds staleIfErrorMs, and the entry is dropped', async (t) => {
  // Prepare
  const { cache, clock, backend, events } = await cacheWithExpiringEntry('w');
  const outage = new SecretError('backend_unavailable', 'backend is down');
  backend.failWith = outage;

  // Act
  clock.advance(5_000);
  const lastStale = await cache.read('w', undefined, backend.loader('w'));
  clock.advance(1);
  const pastWindow = cache.read('w', undefined, backend.loader('w'));

  // Assess
  t.equal(lastStale.cache, 'stale', 'an age of exactly staleIfErrorMs is still served');
  await t.rejects(pastWindow, outage);
  t.equal(cache.size, 0);
  t.same(events.evictions, ['expired']);
});

/** Lets a background refresh started by the last read settle. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

for (const code of ['forbidden', 'backend_error', 'unauthorized'] as const satisfies SecretErrorCode[]) {
  t.test(`a non-transient ${code} error from the refresh reaches the next reader, not a stale value`, async (t) => {
    // Prepare
    const { cache, clock, backend } = await cacheWithExpiringEntry('n');
    const failure = new SecretError(code, 'no');
    backend.failWith = failure;
    clock.advance(2_000);

    // Act
    const servedWhileRefreshing = await cache.read('n', undefined, backend.loader('n'));
    await settle();
    const next = cache.read('n', undefined, backend.loader('n'));

    // Assess
    t.equal(servedWhileRefreshing.cache, 'stale', 'the refresh had not answered yet');
    await t.rejects(next, failure);
    t.equal(cache.size, 1, 'the entry stays for a later transient failure');
    backend.failWith = new SecretError('backend_unavailable', 'down');
    t.equal((await cache.read('n', undefined, backend.loader('n'))).cache, 'stale', 'which it still answers');
  });
}

t.test('an error that is not a SecretError is never answered from the stale entry', async (t) => {
  // Prepare
  const { cache, clock, backend } = await cacheWithExpiringEntry('u');
  backend.failWith = new Error('ECONNRESET');
  clock.advance(2_000);

  // Act
  await cache.read('u', undefined, backend.loader('u'));
  await settle();
  const read = cache.read('u', undefined, backend.loader('u'));

  // Assess
  await t.rejects(read, { message: 'ECONNRESET' });
});

t.test('not_found from the refresh drops every entry of the id, so the next read is 404', async (t) => {
  // Prepare
  const { cache, clock, backend, events } = await cacheWithExpiringEntry('nf');
  backend.set(secretRecord('nf', '1', 'kept'), true);
  await cache.read('nf', '1', backend.loader('nf', '1'));
  backend.failWith = new SecretError('not_found', "secret 'nf' does not exist");
  clock.advance(2_000);

  // Act
  await cache.read('nf', undefined, backend.loader('nf'));
  await settle();
  const read = cache.read('nf', undefined, backend.loader('nf'));

  // Assess
  await t.rejects(read, { code: 'not_found' });
  t.equal(cache.size, 0);
  t.same(events.evictions, ['write', 'write']);
});

t.test('not_found on a pinned version drops only that version', async (t) => {
  // Prepare
  const { cache, backend, events } = makeCache();
  backend.set(secretRecord('pv', '3', 'now'));
  backend.set(secretRecord('pv', '1', 'then'), true);
  await cache.read('pv', undefined, backend.loader('pv'));
  await cache.read('pv', '1', backend.loader('pv', '1'));
  backend.failWith = new SecretError('not_found', "version '1' of secret 'pv' does not exist");

  // Act
  const read = cache.read('pv', '1', backend.loader('pv', '1'), { bypass: true });

  // Assess
  await t.rejects(read, { code: 'not_found' });
  t.same(events.evictions, ['write']);
  backend.failWith = undefined;
  t.equal((await cache.read('pv', undefined, backend.loader('pv'))).cache, 'hit', 'the current entry stays');
});

t.test('a pinned version the backend does not have is not_found, with nothing cached to drop', async (t) => {
  // Prepare
  const { cache, backend, events } = makeCache();
  backend.failWith = new SecretError('not_found', "version '9' of secret 'pv' does not exist");

  // Act
  const read = cache.read('pv', '9', backend.loader('pv', '9'));

  // Assess
  await t.rejects(read, { code: 'not_found' });
  t.same(events.evictions, []);
});

t.test('staleIfErrorMs 0 never serves stale', async (t) => {
  // Prepare
  const { cache, clock, backend } = makeCache({ ttlMs: 1_000, staleIfErrorMs: 0 });
  backend.set(secretRecord('z', '1', 'v'));
  await cache.read('z', undefined, backend.loader('z'));
  backend.failWith = new SecretError('throttled', 'slow down');

  // Act
  const fresh = cache.read('z', undefined, backend.loader('z'), { bypass: true });
  clock.advance(1_000);
  const expired = cache.read('z', undefined, backend.loader('z'));

  // Assess
  await t.rejects(fresh, { code: 'throttled' });
  await t.rejects(expired, { code: 'throttled' });
  t.equal(cache.size, 0, 'an expired entry with no stale window is dropped');
});

t.test('a bypass read that fails transiently falls back to the cached entry, marked stale', async (t) => {
  // Prepare
  const { cache, backend } = await cacheWithExpiringEntry('bp');
  backend.failWith = new SecretError('backend_timeout', 'timed out');

  // Act
  const read = await cache.read('bp', undefined, backend.loader('bp'), { bypass: true });

  // Assess
  t.equal(read.cache, 'stale');
  t.equal(read.record.value, 'kept');
});

t.test('over capacity the least recently used entry is evicted first, and a hit counts as a use', async (t) => {
  // Prepare
  const { cache, backend, events } = makeCache({ maxEntries: 3 });
  for (const id of ['a', 'b', 'c', 'd']) backend.set(secretRecord(id, '1', id));
  for (const id of ['a', 'b', 'c']) await cache.read(id, undefined, backend.loader(id));
  await cache.read('a', undefined, backend.loader('a'));

  // Act
  await cache.read('d', undefined, backend.loader('d'));
  const statuses: Record<string, string> = {};
  for (const id of ['a', 'c', 'd']) statuses[id] = (await cache.read(id, undefined, backend.loader(id))).cache;
  const callsBefore = backend.calls;
  await cache.read('b', undefined, backend.loader('b'));

  // Assess
  t.same(statuses, { a: 'hit', c: 'hit', d: 'hit' });
  t.equal(backend.calls, callsBefore + 1, 'b was the one evicted');
  t.same(events.evictions, ['capacity', 'capacity'], 'reading b back evicted the next least recently used');
  t.equal(cache.size, 3);
});

t.test('an insert drops dead entries from the least recently used end as expired, not capacity', async (t) => {
  // Prepare
  const { cache, clock, backend, events } = makeCache({ ttlMs: 1_000, staleIfErrorMs: 2_000, maxEntries: 10 });
  for (const id of ['old1', 'old2', 'young', 'new']) backend.set(secretRecord(id, '1', id));
  await cache.read('old1', undefined, backend.loader('old1'));
  await cache.read('old2', undefined, backend.loader('old2'));
  clock.advance(1_500);
  await cache.read('young', undefined, backend.loader('young'));
  clock.advance(1_000);

  // Act
  await cache.read('new', undefined, backend.loader('new'));

  // Assess
  t.same(events.evictions, ['expired', 'expired']);
  t.equal(cache.size, 2, 'the entry still inside its stale window stays');
});

t.test('ttlMs 0 keeps nothing and serves nothing stale, but still coalesces concurrent loads', async (t) => {
  // Prepare
  const { cache, backend } = makeCache({ ttlMs: 0 });
  backend.set(secretRecord('off', '1', 'v'));

  // Act
  const concurrent = await Promise.all(
    Array.from({ length: 50 }, () => cache.read('off', undefined, backend.loader('off'))),
  );
  const sequential = await cache.read('off', undefined, backend.loader('off'));
  cache.remember(secretRecord('off', '2', 'w'));
  const sizeAfterWrite = cache.size;
  backend.failWith = new SecretError('backend_unavailable', 'down');
  const failing = cache.read('off', undefined, backend.loader('off'));

  // Assess
  t.ok(concurrent.every((read) => read.cache === 'miss'));
  t.equal(sequential.cache, 'miss');
  t.equal(sizeAfterWrite, 0);
  await t.rejects(failing, { code: 'backend_unavailable' });
  t.equal(backend.calls, 3);
});

t.test('a no-cache read that fails transiently at the last moment of the stale window is answered stale', async (t) => {
  // Prepare
  const { cache, clock, backend, events } = await cacheWithExpiringEntry('edge');
  backend.failWith = new SecretError('backend_unavailable', 'down');
  clock.advance(5_000);

  // Act
  const read = await cache.read('edge', undefined, backend.loader('edge'), { bypass: true });

  // Assess
  t.equal(read.cache, 'stale');
  t.equal(read.record.value, 'kept');
  t.same([events.hits, events.misses, events.stales], [0, 1, 1], 'the fallback counts as stale, not as a miss');
});

t.test('a no-cache read past the stale window fails with the backend error and drops the expired entry', async (t) => {
  // Prepare
  const { cache, clock, backend, events } = await cacheWithExpiringEntry('past');
  const outage = new SecretError('backend_timeout', 'no answer');
  backend.failWith = outage;
  clock.advance(5_001);

  // Act
  const read = cache.read('past', undefined, backend.loader('past'), { bypass: true });

  // Assess
  await t.rejects(read, outage);
  t.equal(cache.size, 0);
  t.same(events.evictions, ['expired']);
  t.same([events.hits, events.misses, events.stales], [0, 2, 0], 'a failed read counts as a miss');
});

t.test(
  'a no-cache read that fails transiently leaves a fresh entry for plain reads, with no stale window',
  async (t) => {
    // Prepare
    const { cache, backend } = makeCache({ ttlMs: 10_000, staleIfErrorMs: 0 });
    backend.set(secretRecord('fr', '1', 'fresh'));
    await cache.read('fr', undefined, backend.loader('fr'));
    backend.failWith = new SecretError('throttled', 'slow down');

    // Act
    const bypassed = cache.read('fr', undefined, backend.loader('fr'), { bypass: true });
    await bypassed.catch(() => undefined);
    const plain = await cache.read('fr', undefined, backend.loader('fr'));

    // Assess
    await t.rejects(bypassed, { code: 'throttled' });
    t.equal(plain.cache, 'hit');
    t.equal(plain.record.value, 'fresh');
  },
);
