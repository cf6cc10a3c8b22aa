import t from 'tap';
import type { SecretRecord } from '../../agent/backends/contract.js';
import { SecretError } from '../../agent/backends/errors.js';
import { makeCache, secretRecord } from './read-through-cache-fixtures.js';

/**
 * A slow backend for the tests that race a no-cache read against a plain one: each load waits for
 * its own release and answers what the backend held when that load started.
 */
class SlowBackend {
  calls = 0;
  readonly releases: Array<() => void> = [];
  constructor(public held: SecretRecord) {}

  readonly load = (): Promise<SecretRecord> => {
    this.calls++;
    const answer = { ...this.held };
    return new Promise((resolve) => this.releases.push(() => resolve(answer)));
  };
}

t.test('a first read loads and misses, the next one is a hit from the cache', async (t) => {
  // Prepare
  const { cache, clock, backend, events } = makeCache();
  backend.set(secretRecord('prod/db', '1', 'hunter2'));

  // Act
  const first = await cache.read('prod/db', undefined, backend.loader('prod/db'));
  clock.advance(2_500);
  const second = await cache.read('prod/db', undefined, backend.loader('prod/db'));

  // Assess
  t.equal(first.cache, 'miss');
  t.equal(first.ageSeconds, 0);
  t.equal(second.cache, 'hit');
  t.equal(second.ageSeconds, 2, 'age is whole seconds since the fetch');
  t.same(second.record, secretRecord('prod/db', '1', 'hunter2'), 'the whole record survives sealing');
  t.equal(backend.calls, 1);
  t.same([events.hits, events.misses, events.stales], [1, 1, 0]);
});

t.test(
  'an entry is fresh until its TTL has passed, then it is served stale at once while a refresh loads the new value',
  async (t) => {
    // Prepare
    const { cache, clock, backend } = makeCache({ ttlMs: 10_000 });
    backend.set(secretRecord('a', '1', 'v1'));
    await cache.read('a', undefined, backend.loader('a'));
    backend.set(secretRecord('a', '2', 'v2'));

    // Act
    clock.advance(9_999);
    const beforeExpiry = await cache.read('a', undefined, backend.loader('a'));
    clock.advance(1);
    const atExpiry = await cache.read('a', undefined, backend.loader('a'));
    await new Promise((resolve) => setImmediate(resolve));
    const afterRefresh = await cache.read('a', undefined, backend.loader('a'));

    // Assess
    t.equal(beforeExpiry.cache, 'hit');
    t.equal(beforeExpiry.record.value, 'v1');
    t.equal(atExpiry.cache, 'stale');
    t.equal(atExpiry.record.value, 'v1');
    t.equal(afterRefresh.cache, 'hit');
    t.equal(afterRefresh.record.value, 'v2');
    t.equal(backend.calls, 2);
  },
);

t.test('without a stale window an expired entry is loaded again before the read answers', async (t) => {
  // Prepare
  const { cache, clock, backend } = makeCache({ ttlMs: 10_000, staleIfErrorMs: 0 });
  backend.set(secretRecord('a', '1', 'v1'));
  await cache.read('a', undefined, backend.loader('a'));
  backend.set(secretRecord('a', '2', 'v2'));

  // Act
  clock.advance(10_000);
  const atExpiry = await cache.read('a', undefined, backend.loader('a'));

  // Assess
  t.equal(atExpiry.cache, 'miss');
  t.equal(atExpiry.record.value, 'v2');
  t.equal(backend.calls, 2);
});

t.test('jitter takes random() * jitterRatio of the TTL off each entry, drawn per entry', async (t) => {
  // Prepare: the draws are 0 for the first entry, 0.5 for the second, just under 1 for the third.
  const draws = [0, 0.5, 0.999_999];
  const { cache, clock, backend } = makeCache({ ttlMs: 10_000, jitterRatio: 0.2, random: () => draws.shift() ?? 0 });
  for (const id of ['full', 'half', 'most']) {
    backend.set(secretRecord(id, '1', id));
    await cache.read(id, undefined, backend.loader(id));
  }
  const statusAt = async (elapsed: number, id: string) => {
    const saved = clock.ms;
    clock.advance(elapsed);
    const { cache: status } = await cache.read(id, undefined, backend.loader(id));
    clock.ms = saved;
    return status;
  };

  // Act
  const most = [await statusAt(7_999, 'most'), await statusAt(8_001, 'most')];
  const half = [await statusAt(8_999, 'half'), await statusAt(9_000, 'half')];
  const full = [await statusAt(9_999, 'full'), await statusAt(10_000, 'full')];

  // Assess: each TTL lies in (ttl * (1 - jitterRatio), ttl].
  t.same(most, ['hit', 'stale'], 'a draw near 1 shortens the TTL to just above 8 s');
  t.same(half, ['hit', 'stale'], 'a draw of 0.5 gives 9 s');
  t.same(full, ['hit', 'stale'], 'a draw of 0 keeps the full 10 s');
});

t.test('1000 concurrent reads of one uncached id make exactly one backend call', async (t) => {
  // Prepare
  const { cache, backend, events } = makeCache();
  backend.set(secretRecord('hot', '7', 'shared'));

  // Act
  const reads = await Promise.all(
    Array.from({ length: 1000 }, () => cache.read('hot', undefined, backend.loader('hot'))),
  );

  // Assess
  t.equal(backend.calls, 1);
  t.ok(
    reads.every((read) => read.cache === 'miss' && read.record.value === 'shared'),
    'every reader gets the value',
  );
  t.not(reads[0]?.record, reads[1]?.record, 'each reader gets its own record object');
  t.equal(events.misses, 1000);
});

t.test('the current version and a pinned version are loaded and cached separately', async (t) => {
  // Prepare
  const { cache, backend } = makeCache();
  backend.set(secretRecord('app', '2', 'new'));
  backend.set(secretRecord('app', '1', 'old'), true);

  // Act
  const [current, pinned] = await Promise.all([
    cache.read('app', undefined, backend.loader('app')),
    cache.read('app', '1', backend.loader('app', '1')),
  ]);
  const pinnedAgain = await cache.read('app', '1', backend.loader('app', '1'));

  // Assess
  t.equal(backend.calls, 2);
  t.equal(current.record.value, 'new');
  t.equal(pinned.record.value, 'old');
  t.equal(pinnedAgain.cache, 'hit');
  t.equal(cache.size, 2, 'a current read is not also stored under its version');
});

t.test('a failed load rejects every waiter with the same error and is not remembered', async (t) => {
  // Prepare
  const { cache, backend } = makeCache();
  const failure = new SecretError('forbidden', 'access denied');
  backend.failWith = failure;

  // Act
  const results = await Promise.allSettled(
    Array.from({ length: 5 }, () => cache.read('x', undefined, backend.loader('x'))),
  );
  backend.failWith = undefined;
  backend.set(secretRecord('x', '1', 'ok'));
  const retry = await cache.read('x', undefined, backend.loader('x'));

  // Assess
  t.ok(results.every((result) => result.status === 'rejected' && result.reason === failure));
  t.equal(retry.record.value, 'ok', 'the next read starts a new load');
  t.equal(backend.calls, 2);
});

t.test('a load that throws synchronously rejects the read and does not block later reads', async (t) => {
  // Prepare
  const { cache, backend } = makeCache();
  backend.set(secretRecord('x', '1', 'ok'));
  const throwing = (): Promise<never> => {
    throw new Error('bad call');
  };

  // Act
  const failed = cache.read('x', undefined, throwing);
  const later = cache.read('x', undefined, backend.loader('x'));

  // Assess
  await t.rejects(failed, { message: 'bad call' });
  t.equal((await later).record.value, 'ok');
});

t.test('a bypass read skips a fresh entry, loads, and refreshes the entry for later reads', async (t) => {
  // Prepare
  const { cache, backend, events } = makeCache();
  backend.set(secretRecord('b', '1', 'cached'));
  await cache.read('b', undefined, backend.loader('b'));
  backend.set(secretRecord('b', '2', 'changed outside'));

  // Act
  const bypassed = await cache.read('b', undefined, backend.loader('b'), { bypass: true });
  const next = await cache.read('b', undefined, backend.loader('b'));

  // Assess
  t.equal(bypassed.cache, 'miss');
  t.equal(bypassed.record.value, 'changed outside');
  t.equal(next.cache, 'hit');
  t.equal(next.record.value, 'changed outside');
  t.equal(backend.calls, 2);
  t.same([events.hits, events.misses], [1, 2]);
});

t.test(
  'a no-cache read never joins a load that started before it, and its newer result is what later reads get',
  async (t) => {
    // Prepare: a slow backend answers what it held when each load started. A plain read's load is in
    // flight when the secret is written behind the cache's back.
    const { cache } = makeCache();
    const slow = new SlowBackend(secretRecord('j', '1', 'before the write'));
    const plain = cache.read('j', undefined, slow.load);
    slow.held = secretRecord('j', '2', 'after the write');

    // Act
    const noCache = cache.read('j', undefined, slow.load, { bypass: true });
    await new Promise((resolve) => setImmediate(resolve));
    for (const release of slow.releases) release();
    const [plainRead, noCacheRead] = await Promise.all([plain, noCache]);
    const later = await cache.read('j', undefined, slow.load);

    // Assess
    t.equal(slow.calls, 2, 'the no-cache read made its own load');
    t.equal(noCacheRead.record.value, 'after the write');
    t.equal(plainRead.record.value, 'before the write', 'the earlier load answers its own reader');
    t.equal(later.cache, 'hit');
    t.equal(later.record.value, 'after the write', 'and the newer value is what the cache keeps');
  },
);

t.test('a no-cache read is not overwritten in the cache by an older load that lands after it', async (t) => {
  // Prepare
  const { cache, backend } = makeCache();
  let resolveOld: (record: ReturnType<typeof secretRecord>) => void = () => undefined;
  const old = cache.read('o', undefined, () => new Promise((resolve) => (resolveOld = resolve)));
  backend.set(secretRecord('o', '2', 'newer'));

  // Act
  const fresh = await cache.read('o', undefined, backend.loader('o'), { bypass: true });
  resolveOld(secretRecord('o', '1', 'older'));
  const oldRead = await old;
  const later = await cache.read('o', undefined, backend.loader('o'));

  // Assess
  t.equal(fresh.record.value, 'newer');
  t.equal(oldRead.record.value, 'older', 'the older load still answers the reader that started it');
  t.equal(later.record.value, 'newer', 'but the cache keeps the newer value');
});

t.test(
  'no-cache reads that arrive together share one load, and a plain read arriving meanwhile joins it',
  async (t) => {
    // Prepare
    const { cache, backend } = makeCache();
    backend.set(secretRecord('c', '1', 'shared'));

    // Act
    const reads = await Promise.all([
      cache.read('c', undefined, backend.loader('c'), { bypass: true }),
      cache.read('c', undefined, backend.loader('c'), { bypass: true }),
      cache.read('c', undefined, backend.loader('c')),
    ]);

    // Assess
    t.equal(backend.calls, 1);
    t.same(
      reads.map((read) => [read.cache, read.record.value]),
      [
        ['miss', 'shared'],
        ['miss', 'shared'],
        ['miss', 'shared'],
      ],
    );
  },
);

t.test(
  'a read arriving while a no-cache load is in flight joins it, after the load it replaced has settled',
  async (t) => {
    // Prepare: each load waits for its own release and answers what the backend held when it started.
    const { cache } = makeCache();
    const slow = new SlowBackend(secretRecord('k', '1', 'older'));
    const plain = cache.read('k', undefined, slow.load);
    slow.held = secretRecord('k', '2', 'newer');
    const noCache = cache.read('k', undefined, slow.load, { bypass: true });
    await new Promise((resolve) => setImmediate(resolve));

    // Act: the replaced load settles first, then a plain read arrives.
    slow.releases[0]?.();
    await plain;
    const joining = cache.read('k', undefined, slow.load);
    const callsWhileInFlight = slow.calls;
    for (const release of slow.releases.slice(1)) release();
    const [noCacheRead, joined] = await Promise.all([noCache, joining]);

    // Assess
    t.equal(callsWhileInFlight, 2, 'the later read made no load of its own');
    t.equal(joined.record.value, 'newer');
    t.equal(noCacheRead.record.value, 'newer');
  },
);
