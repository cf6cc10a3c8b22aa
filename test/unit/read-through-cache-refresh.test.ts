/**
 * Stale-while-revalidate: past its TTL an entry answers at once while one background refresh per
 * key runs, and a failed refresh backs off before the next one.
 */
import t from 'tap';
import { SecretError } from '../../agent/backends/errors.js';
import { makeCache, secretRecord } from './read-through-cache-fixtures.js';

/** Lets a background refresh started by the last read settle. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A cache holding `r` (1 s TTL, 60 s stale window, refresh backoff 1 s doubling up to 4 s), past its TTL. */
async function expiredEntry() {
  const fixture = makeCache({ ttlMs: 1_000, staleIfErrorMs: 60_000, refreshBackoffMs: { base: 1_000, max: 4_000 } });
  fixture.backend.set(secretRecord('r', '1', 'kept'));
  await fixture.cache.read('r', undefined, fixture.backend.loader('r'));
  fixture.clock.advance(1_500);
  return fixture;
}

t.test('past its TTL every reader is answered at once while one refresh for the id is still running', async (t) => {
  // Prepare
  const { cache, backend } = await expiredEntry();
  backend.hold();
  const callsBefore = backend.calls;

  // Act: the refresh stays held for as long as the reads take.
  const reads = [];
  for (let i = 0; i < 10; i++) reads.push(await cache.read('r', undefined, backend.loader('r')));

  // Assess
  t.same(
    reads.map((read) => [read.cache, read.record.value]),
    Array(10).fill(['stale', 'kept']),
  );
  t.equal(backend.calls - callsBefore, 1, 'one background refresh, not one per reader');
  backend.release();
});

t.test('after a failed refresh the next one waits out a backoff that doubles up to its maximum', async (t) => {
  // Prepare
  const { cache, clock, backend } = await expiredEntry();
  backend.failWith = new SecretError('backend_unavailable', 'down');
  const refreshesAt = async (advanceMs: number) => {
    clock.advance(advanceMs);
    const before = backend.calls;
    const read = await cache.read('r', undefined, backend.loader('r'));
    await settle();
    t.equal(read.cache, 'stale', 'the reader never waits for the backend');
    return backend.calls - before;
  };

  // Act
  const attempts = [
    await refreshesAt(0), // first refresh fails: backoff 1 s
    await refreshesAt(999),
    await refreshesAt(1), // 1 s later: second refresh fails: backoff 2 s
    await refreshesAt(1_999),
    await refreshesAt(1), // third fails: backoff 4 s
    await refreshesAt(3_999),
    await refreshesAt(1), // fourth fails: backoff stays at the 4 s maximum
    await refreshesAt(3_999),
    await refreshesAt(1),
  ];

  // Assess
  t.same(attempts, [1, 0, 1, 0, 1, 0, 1, 0, 1]);
});

t.test('a refresh that succeeds brings the new value and ends the backoff', async (t) => {
  // Prepare
  const { cache, clock, backend } = await expiredEntry();
  backend.failWith = new SecretError('throttled', 'slow down');
  await cache.read('r', undefined, backend.loader('r'));
  await settle();
  backend.failWith = undefined;
  backend.set(secretRecord('r', '2', 'renewed'));

  // Act
  clock.advance(1_000);
  const whileRefreshing = await cache.read('r', undefined, backend.loader('r'));
  await settle();
  const afterRefresh = await cache.read('r', undefined, backend.loader('r'));

  // Assess
  t.equal(whileRefreshing.record.value, 'kept');
  t.equal(afterRefresh.cache, 'hit');
  t.equal(afterRefresh.record.value, 'renewed');
  t.equal(afterRefresh.ageSeconds, 0);
});

t.test('a cold read during an outage fails with the backend error: there is nothing stale to serve', async (t) => {
  // Prepare
  const { cache, backend } = makeCache();
  const outage = new SecretError('backend_timeout', 'no answer');
  backend.failWith = outage;

  // Act
  const read = cache.read('cold', undefined, backend.loader('cold'));

  // Assess
  await t.rejects(read, outage);
  t.equal(cache.size, 0);
});

t.test('with staleIfErrorMs 0 a no-cache read that fails transiently is an error, never the old value', async (t) => {
  // Prepare
  const { cache, backend, events } = makeCache({ staleIfErrorMs: 0 });
  backend.set(secretRecord('s', '1', 'old'));
  await cache.read('s', undefined, backend.loader('s'));
  backend.failWith = new SecretError('backend_unavailable', 'down');

  // Act
  const read = cache.read('s', undefined, backend.loader('s'), { bypass: true });

  // Assess
  await t.rejects(read, { code: 'backend_unavailable' });
  t.equal(events.stales, 0);
});

t.test('a negative jitterRatio is refused, since it would lengthen TTLs past what was configured', async (t) => {
  // Act
  const build = () => makeCache({ jitterRatio: -0.1 });

  // Assess
  t.throws(build, { name: 'RangeError', message: /jitterRatio/ });
  t.doesNotThrow(() => makeCache({ jitterRatio: 0 }), 'zero, no jitter, is fine');
});
