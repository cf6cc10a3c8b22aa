/**
 * The broker's second-wave reads and writes: restore, conditional reads, batch reads and the
 * per-id version notices a watch will wait on.
 */
import t, { type Test } from 'tap';
import type { CallOptions, SecretRecord } from '../../agent/backends/contract.js';
import { SecretError } from '../../agent/backends/errors.js';
import { AccessPolicy } from '../../agent/broker/access-policy.js';
import { NotModified } from '../../agent/broker/secret-broker.js';
import { FileSecretLocks } from '../../agent/broker/secret-locks.js';
import { brokerFixture } from '../helpers/broker-fixture.js';
import { BatchingMemoryBackend, MemoryBackend } from '../helpers/memory-backend.js';

/** A memory backend that counts how many gets run at once. */
class ConcurrencyBackend extends MemoryBackend {
  running = 0;
  mostAtOnce = 0;

  override async get(id: string, version: string | undefined, options?: CallOptions): Promise<SecretRecord> {
    this.running++;
    this.mostAtOnce = Math.max(this.mostAtOnce, this.running);
    try {
      await new Promise((resolve) => setImmediate(resolve));
      return await super.get(id, version, options);
    } finally {
      this.running--;
    }
  }
}

/** A broker whose cache holds every value for a minute, so that a test sees which reads it answers. */
function setup<B extends MemoryBackend>(t: Test, backend: B, policy?: AccessPolicy) {
  return brokerFixture(t, {
    backend,
    lockWaitMs: 50,
    cache: { ttlMs: 60_000, maxEntries: 100, staleIfErrorMs: 0 },
    policy,
  });
}

t.test('restore brings a deleted secret back at its version and fills the cache', async (t) => {
  // Prepare
  const { backend, broker } = await setup(t, new MemoryBackend());
  const created = await broker.create({ id: 'a', value: 'one' });
  await broker.remove('a');

  // Act
  const restored = await broker.restore('a');
  const getsBefore = backend.calls.get;
  const read = await broker.read('a');

  // Assess
  t.equal(restored.version, created.version);
  t.notOk('value' in restored, 'the answer carries no value');
  t.equal(read.cache, 'hit', 'the restored value was read into the cache');
  t.equal(read.record.value, 'one');
  t.equal(backend.calls.get, getsBefore, 'the read after it needed no backend call');
});

t.test(
  'a restore whose read-back fails still answers the restored version, and leaves no older value cached',
  async (t) => {
    // Prepare: this broker caches the first value; behind it the secret moves on and is deleted.
    const { backend, broker } = await setup(t, new MemoryBackend());
    await broker.create({ id: 'a', value: 'one' });
    backend.writeOutside('a', 'two');
    await backend.delete('a', { force: false });
    backend.failNext('get', new SecretError('backend_error', 'unreadable answer'));

    // Act
    const restored = await broker.restore('a');
    const read = await broker.read('a');

    // Assess
    t.equal(restored.version, read.record.version, 'the restore answered the version it brought back');
    t.equal(read.record.value, 'two');
    t.equal(read.cache, 'miss');
  },
);

t.test('restore refuses a live secret with already_exists and a missing one with not_found', async (t) => {
  const { backend, broker } = await setup(t, new MemoryBackend());
  await broker.create({ id: 'a', value: 'one' });
  await t.rejects(broker.restore('a'), { code: 'already_exists' });
  await t.rejects(broker.restore('nope'), { code: 'not_found' });
  t.equal(backend.calls.restore, 0, 'the backend was never asked to restore');
});

t.test('restore waits for the secret lock like every write', async (t) => {
  // Prepare
  const { backend, broker, lockDir } = await setup(t, new MemoryBackend());
  await broker.create({ id: 'a', value: 'one' });
  await broker.remove('a');
  const other = new FileSecretLocks({ dir: lockDir, waitMs: 0, staleMs: 10_000 });
  const held = await other.acquire('a');
  t.teardown(() => held.release());

  // Act
  const restore = broker.restore('a');

  // Assess
  await t.rejects(restore, { code: 'locked' });
  t.equal(backend.calls.restore, 0, 'nothing was restored without the lock');
});

t.test('the create policy governs restore', async (t) => {
  const policy = new AccessPolicy({ create: ['^app/'], delete: ['^other/'] });
  const { backend, broker } = await setup(t, new MemoryBackend(), policy);
  await backend.create({ id: 'other/x', value: 'v', encoding: 'utf8' });
  await broker.remove('other/x');
  await t.rejects(broker.restore('other/x'), { code: 'forbidden' });
});

t.test(
  'a read from the cache alone answers only a fresh entry the caller may read, saying if it is locked',
  async (t) => {
    // Prepare: `app/a` is cached at its current version and at its first one.
    const { broker, locks } = await setup(t, new MemoryBackend(), new AccessPolicy({ read: ['^app/'] }));
    const created = await broker.create({ id: 'app/a', value: 'one' });
    await broker.update('app/a', { value: 'two' });
    await broker.read('app/a', { version: created.version });
    await broker.create({ id: 'other/x', value: 'x' });
    const held = await locks.acquire('app/a');
    t.teardown(() => held.release());

    // Act
    const fresh = broker.cachedRead('app/a');
    const missing = broker.cachedRead('app/never-read');
    const forbidden = broker.cachedRead('other/x');
    const invalid = broker.cachedRead(`app/a\u0000${created.version}`);

    // Assess
    t.match(fresh, { cache: 'hit', locked: true, record: { value: 'two' } });
    t.equal(missing, undefined);
    t.equal(forbidden, undefined, 'the policy holds');
    t.equal(invalid, undefined, 'an invalid id never reaches a cached entry, not even an older version');
  },
);

t.test('a conditional read of the cached version answers NotModified without a backend call', async (t) => {
  // Prepare
  const { backend, broker } = await setup(t, new MemoryBackend());
  const created = await broker.create({ id: 'a', value: 'one' });
  const gets = backend.calls.get;

  // Act
  const same = await broker.readIfNoneMatch('a', { version: created.version });
  const any = await broker.readIfNoneMatch('a', { any: true });
  const other = await broker.readIfNoneMatch('a', { version: 'older' });

  // Assess
  t.ok(same instanceof NotModified, 'the current version is not modified');
  t.match(same, { etag: `"${created.version}"`, cache: 'hit' });
  t.ok(any instanceof NotModified, '* matches an existing secret');
  t.notOk(other instanceof NotModified, 'another version reads the secret');
  t.equal(backend.calls.get, gets, 'the cache answered all three');
});

t.test('a conditional read of an older version compares that version, not the cached current one', async (t) => {
  // Prepare
  const { broker } = await setup(t, new MemoryBackend());
  const created = await broker.create({ id: 'a', value: 'one' });
  const updated = await broker.update('a', { value: 'two' });

  // Act
  const older = await broker.readIfNoneMatch('a', { version: updated.version }, { version: created.version });

  // Assess
  t.notOk(older instanceof NotModified, 'the older version is not the one the caller holds');
  t.equal(older instanceof NotModified ? undefined : older.record.value, 'one');
});

t.test('a bypassing conditional read sees a write made behind the broker', async (t) => {
  // Prepare
  const { backend, broker } = await setup(t, new MemoryBackend());
  const created = await broker.create({ id: 'a', value: 'one' });
  backend.writeOutside('a', 'two');

  // Act
  const cached = await broker.readIfNoneMatch('a', { version: created.version });
  const fresh = await broker.readIfNoneMatch('a', { version: created.version }, { bypassCache: true });

  // Assess
  t.ok(cached instanceof NotModified, 'within its TTL the cache still answers the version it holds');
  t.notOk(fresh instanceof NotModified, 'the backend holds a newer version');
  if (!(fresh instanceof NotModified)) t.equal(fresh.record.value, 'two');
  await t.rejects(broker.readIfNoneMatch('gone', { any: true }), { code: 'not_found' });
});

t.test('a batch read takes cached ids from the cache and the rest in one getMany', async (t) => {
  // Prepare
  const { backend, broker } = await setup(t, new BatchingMemoryBackend());
  await broker.create({ id: 'cached', value: 'c' });
  for (const id of ['x', 'y']) await backend.create({ id, value: `v-${id}`, encoding: 'utf8' });

  // Act
  const items = await broker.readMany(['x', 'cached', 'missing', 'y']);
  const again = await broker.readMany(['x', 'y']);

  // Assess
  t.same(backend.batches, [['x', 'missing', 'y']], 'one backend batch, without the cached id');
  t.same(
    items.map((item) => ('read' in item ? [item.id, item.read.record.value] : [item.id, item.error.code])),
    [
      ['x', 'v-x'],
      ['cached', 'c'],
      ['missing', 'not_found'],
      ['y', 'v-y'],
    ],
  );
  t.ok(
    again.every((item) => 'read' in item && item.read.cache === 'hit'),
    'the batch filled the cache',
  );
});

t.test('a batch read on a backend without getMany runs at most 4 gets at once', async (t) => {
  // Prepare
  const { backend, broker } = await setup(t, new ConcurrencyBackend());
  const ids = Array.from({ length: 12 }, (_, i) => `s${i}`);
  for (const id of ids) await backend.create({ id, value: id, encoding: 'utf8' });

  // Act
  const items = await broker.readMany(ids);

  // Assess
  t.equal(items.filter((item) => 'read' in item).length, 12, 'every id read');
  t.equal(backend.mostAtOnce, 4, 'four gets at a time');
});

t.test('a batch read answers a forbidden id with its own error and still reads the others', async (t) => {
  const { backend, broker } = await setup(t, new BatchingMemoryBackend(), new AccessPolicy({ read: ['^app/'] }));
  await backend.create({ id: 'app/a', value: 'a', encoding: 'utf8' });
  await backend.create({ id: 'ops/b', value: 'b', encoding: 'utf8' });
  const items = await broker.readMany(['ops/b', 'app/a']);
  t.match(items, [
    { id: 'ops/b', error: { code: 'forbidden' } },
    { id: 'app/a', read: {} },
  ]);
  t.same(backend.batches, [['app/a']], 'the forbidden id was never read');
});

t.test('a batch read refuses an empty, oversized, repeated or invalid id list', async (t) => {
  const { broker } = await setup(t, new MemoryBackend());
  await t.rejects(broker.readMany([]), { code: 'invalid_request' });
  await t.rejects(broker.readMany(Array.from({ length: 21 }, (_, i) => `s${i}`)), { code: 'invalid_request' });
  await t.rejects(broker.readMany(['a', 'a']), { code: 'invalid_request' });
  await t.rejects(broker.readMany(['a', 'b//c']), { code: 'invalid_id' });
});

t.test('a version watcher hears every version the broker learns, and nothing twice', async (t) => {
  // Prepare
  const { backend, broker } = await setup(t, new MemoryBackend());
  const heard: (string | undefined)[] = [];
  const stop = broker.onVersionChange('a', (version) => heard.push(version));
  const created = await broker.create({ id: 'a', value: 'one' });

  // Act
  await broker.read('a');
  const updated = await broker.update('a', { value: 'two' });
  backend.writeOutside('a', 'three');
  const outside = await broker.read('a', { bypassCache: true });
  await broker.remove('a');
  const restored = await broker.restore('a');
  stop();
  await broker.update('a', { value: 'unheard' });

  // Assess
  t.same(heard, [created.version, updated.version, outside.record.version, undefined, restored.version]);
});

t.test('a read the cache answers announces nothing; only a read of the store does', async (t) => {
  // Prepare
  const { broker } = await setup(t, new MemoryBackend());
  const created = await broker.create({ id: 'a', value: 'one' });
  const heard: (string | undefined)[] = [];
  broker.onVersionChange('a', (version) => heard.push(version));

  // Act
  await broker.read('a');
  await broker.readMany(['a']);
  const fromCache = [...heard];
  await broker.read('a', { bypassCache: true });

  // Assess
  t.same(fromCache, []);
  t.same(heard, [created.version]);
});
