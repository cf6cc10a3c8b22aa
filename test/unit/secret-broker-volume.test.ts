/**
 * The broker and its lock volume: brokers sharing one see each other's writes through the version
 * markers, a marker that cannot be written does not undo a write, a write whose lock is lost is
 * abandoned, and a broker with locking turned off (no volume at all) still serves.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import type { CallOptions, SecretDescription } from '../../agent/backends/contract.js';
import type { BrokerObserver } from '../../agent/broker/broker-observer.js';
import { ReadThroughCache } from '../../agent/broker/read-through-cache.js';
import { NotModified, SecretBroker } from '../../agent/broker/secret-broker.js';
import { FileSecretLocks, type SecretLocking } from '../../agent/broker/secret-locks.js';
import { markerName } from '../../agent/broker/version-markers.js';
import { FAST_RETRY } from '../helpers/broker-app.js';
import { MemoryBackend } from '../helpers/memory-backend.js';

async function tempLockDir(t: Test): Promise<string> {
  const lockDir = await mkdtemp(path.join(os.tmpdir(), 'sb-volume-'));
  t.teardown(() => rm(lockDir, { recursive: true, force: true }));
  return lockDir;
}

function brokerOn(t: Test, backend: MemoryBackend, locks: SecretLocking, observer?: BrokerObserver): SecretBroker {
  const broker = new SecretBroker({
    backend,
    locks,
    cache: new ReadThroughCache({ ttlMs: 60_000, maxEntries: 10, staleIfErrorMs: 0, jitterRatio: 0 }),
    retry: FAST_RETRY,
    watch: { pollIntervalMs: 600_000, maxWatches: 10 },
    ...(observer ? { observer } : {}),
  });
  t.teardown(() => broker.close());
  return broker;
}

/** The first version of `id` other than `known` that `broker` hears of; undefined if none comes within 10 s. */
function nextVersionHeard(broker: SecretBroker, id: string, known: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const guard = setTimeout(() => finish(undefined), 10_000);
    const stop = broker.onVersionChange(id, (version) => {
      if (version !== known) finish(version);
    });
    function finish(version: string | undefined) {
      clearTimeout(guard);
      stop();
      resolve(version);
    }
  });
}

t.test('a write by another broker on the same lock volume reaches this broker past its cached value', async (t) => {
  // Prepare: both brokers serve one store; this one wrote the first value and caches it for a minute.
  const lockDir = await tempLockDir(t);
  const backend = new MemoryBackend();
  const here = brokerOn(t, backend, new FileSecretLocks({ dir: lockDir, waitMs: 50, staleMs: 10_000 }));
  const there = brokerOn(t, backend, new FileSecretLocks({ dir: lockDir, waitMs: 50, staleMs: 10_000 }));
  const created = await here.create({ id: 'a', value: 'one' });
  const heard = nextVersionHeard(here, 'a', created.version);

  // Act
  const updated = await there.update('a', { value: 'two' });
  const version = await heard;
  const read = await here.read('a');

  // Assess
  t.equal(version, updated.version, 'the version the other broker wrote');
  t.equal(read.record.value, 'two');
  t.equal(read.cache, 'miss', 'the cached first value was dropped');
});

t.test('a write whose version marker cannot be written still succeeds, and the failure is reported', async (t) => {
  // Prepare: a directory stands where the markers of `a` and `b` would go.
  const lockDir = await tempLockDir(t);
  for (const id of ['a', 'b']) await mkdir(path.join(lockDir, markerName(id), 'in-the-way'), { recursive: true });
  const backend = new MemoryBackend();
  const failures: unknown[] = [];
  const observed = brokerOn(t, backend, new FileSecretLocks({ dir: lockDir, waitMs: 50, staleMs: 10_000 }), {
    markerFailed: (err) => failures.push(err),
  });
  const unobserved = brokerOn(t, backend, new FileSecretLocks({ dir: lockDir, waitMs: 50, staleMs: 10_000 }));

  // Act
  await observed.create({ id: 'a', value: 'one' });
  await unobserved.create({ id: 'b', value: 'two' });

  // Assess
  t.equal(failures.length, 1, 'the marker failure was reported');
  t.equal((await observed.read('a', { bypassCache: true })).record.value, 'one');
  t.equal((await unobserved.read('b', { bypassCache: true })).record.value, 'two', 'also with no one to tell');
});

/** Locking with none of the optional parts (no markers, no background start), as the benchmark's no-lock server uses. */
const noLocking: SecretLocking = {
  acquire: async () => ({ signal: new AbortController().signal, release: async () => undefined }),
  lockedNow: () => false,
  releaseAll: async () => undefined,
};

t.test('with locking turned off (no lock volume) the broker still writes, reads, watches and closes', async (t) => {
  // Prepare
  const broker = brokerOn(t, new MemoryBackend(), noLocking);

  // Act
  const created = await broker.create({ id: 'a', value: 'one' });
  const read = await broker.read('a', { bypassCache: true });
  const watched = await broker.watch('a', created.version, 10);
  await broker.update('a', { value: 'two' });
  await broker.remove('a');
  await broker.close();

  // Assess
  t.equal(read.record.value, 'one');
  t.ok(watched instanceof NotModified);
});

/** A store whose next describe, once held, ignores its abort signal and answers when the test lets it. */
class HeldDescribeBackend extends MemoryBackend {
  #held: { entered: () => void; gate: Promise<void> } | undefined;

  holdNextDescribe(): { entered: Promise<void>; release: () => void } {
    let entered = () => {};
    let release = () => {};
    const enteredPromise = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.#held = { entered, gate };
    return { entered: enteredPromise, release };
  }

  override async describe(id: string, options?: CallOptions): Promise<SecretDescription> {
    const held = this.#held;
    this.#held = undefined;
    if (held === undefined) return super.describe(id, options);
    held.entered();
    await held.gate;
    return super.describe(id);
  }
}

/**
 * Runs `write` on secret `a` (value 'one') and loses its lock while the write waits on its describe:
 * the lock is removed, and the describe answers only once the holder has noticed.
 */
async function writeLosingItsLock(t: Test, write: (broker: SecretBroker) => Promise<unknown>) {
  const lockDir = await tempLockDir(t);
  const backend = new HeldDescribeBackend();
  let noticed = () => {};
  const lost = new Promise<void>((resolve) => {
    noticed = resolve;
  });
  // The shortest staleness: the holder refreshes, and so notices the loss, about once a second.
  const locks = new FileSecretLocks({ dir: lockDir, waitMs: 0, staleMs: 2000, onCompromised: () => noticed() });
  const broker = brokerOn(t, backend, locks);
  await broker.create({ id: 'a', value: 'one' });
  const describe = backend.holdNextDescribe();
  const writing = write(broker).then(
    () => 'written',
    (err: unknown) => err,
  );
  await describe.entered;
  await rm(`${locks.lockPath('a')}.lock`, { recursive: true });
  await lost;
  describe.release();
  const outcome = await writing;
  const value = (await broker.read('a', { bypassCache: true })).record.value;
  return { backend, outcome, value };
}

t.test('a write whose lock is lost before it reaches the backend is abandoned, and says so', async (t) => {
  // Act
  const { backend, outcome, value } = await writeLosingItsLock(t, (broker) => broker.update('a', { value: 'two' }));

  // Assess
  t.match(outcome, { code: 'locked', message: "lock of secret 'a' was lost during the write" });
  t.equal(backend.calls.put, 0, 'the put never started');
  t.equal(value, 'one');
});

t.test('a write whose lock is lost answers that, not what it found after the loss', async (t) => {
  // Act: the If-Match is stale, but the lock was lost before the broker could know it under the lock.
  const { backend, outcome } = await writeLosingItsLock(t, (broker) => broker.remove('a', { ifMatch: 'stale' }));

  // Assess
  t.match(outcome, { code: 'locked', message: "lock of secret 'a' was lost during the write" });
  t.equal(backend.calls.delete, 0);
});

t.test(
  'a scan that finds the previous write’s marker never drops the entry of the write that follows it',
  async (t) => {
    // Prepare: background scans stopped, so that the one scan below is the only look at the marker.
    const locks = new FileSecretLocks({ dir: await tempLockDir(t), waitMs: 50, staleMs: 10_000 });
    const broker = brokerOn(t, new MemoryBackend(), locks);
    locks.stop();
    await broker.create({ id: 'a', value: 'one' });
    const markers = locks.markers;
    const write = markers.write.bind(markers);
    // The scan runs at the worst moment: the update is written to the backend, its marker not yet.
    markers.write = async (id, version) => {
      await markers.scan([markerName(id)]);
      return write(id, version);
    };

    // Act
    await broker.update('a', { value: 'two' });
    const cached = broker.cachedRead('a');

    // Assess
    t.equal(cached?.record.value, 'two', 'the update is still what the cache answers');
  },
);
