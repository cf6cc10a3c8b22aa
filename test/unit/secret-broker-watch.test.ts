/**
 * Watches through the broker: a conditional read held until the secret's version moves on, woken by
 * this broker's own writes or by its poller's reads of the backend, ended by its wait running out,
 * by the caller leaving or by shutdown, and counted against the cap only while it is held.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { AccessPolicy } from '../../agent/broker/access-policy.js';
import { ReadThroughCache } from '../../agent/broker/read-through-cache.js';
import { NotModified, SecretBroker, type SecretRead, type WatchSettings } from '../../agent/broker/secret-broker.js';
import { FileSecretLocks } from '../../agent/broker/secret-locks.js';
import { FAST_RETRY } from '../helpers/broker-app.js';
import { MemoryBackend } from '../helpers/memory-backend.js';

/**
 * Longer than a test may run: a watch that should answer but waits on instead fails its test by
 * the test's timeout, whatever it would answer at the end of its wait.
 */
const LONG_WAIT_MS = 600_000;

async function setup(t: Test, options: { watch?: Partial<WatchSettings>; policy?: AccessPolicy } = {}) {
  const lockDir = await mkdtemp(path.join(os.tmpdir(), 'sb-watch-'));
  t.teardown(() => rm(lockDir, { recursive: true, force: true }));
  const backend = new MemoryBackend();
  const broker = new SecretBroker({
    backend,
    locks: new FileSecretLocks({ dir: lockDir, waitMs: 50, staleMs: 10_000 }),
    cache: new ReadThroughCache({ ttlMs: 60_000, maxEntries: 10, staleIfErrorMs: 0, jitterRatio: 0 }),
    retry: FAST_RETRY,
    // No poll within a test unless the test asks for one.
    watch: { pollIntervalMs: 600_000, maxWatches: 10, ...options.watch },
    ...(options.policy ? { policy: options.policy } : {}),
  });
  t.teardown(() => broker.close());
  return { backend, broker };
}

/** The value a watch answered, or 'not modified'. */
const outcome = (answer: SecretRead | NotModified) =>
  answer instanceof NotModified ? 'not modified' : answer.record.value;

t.test('a watch of a secret already past the version the caller saw answers the new value at once', async (t) => {
  // Prepare
  const { broker } = await setup(t);
  const created = await broker.create({ id: 'a', value: 'one' });
  await broker.update('a', { value: 'two' });

  // Act
  const answer = await broker.watch('a', created.version, LONG_WAIT_MS);

  // Assess
  t.equal(outcome(answer), 'two');
});

t.test('a watch holds until a write through the broker, then answers the new value', async (t) => {
  // Prepare
  const { broker } = await setup(t);
  const created = await broker.create({ id: 'a', value: 'one' });

  // Act
  const watching = broker.watch('a', created.version, LONG_WAIT_MS);
  await broker.update('a', { value: 'two' });

  // Assess
  t.equal(outcome(await watching), 'two');
});

t.test(
  'a watch with nothing new answers not modified, with the version the caller saw, when its wait ends',
  async (t) => {
    // Prepare
    const { broker } = await setup(t);
    const created = await broker.create({ id: 'a', value: 'one' });

    // Act
    const answer = await broker.watch('a', created.version, 20);

    // Assess
    t.ok(answer instanceof NotModified);
    t.equal(answer instanceof NotModified ? answer.etag : undefined, `"${created.version}"`);
  },
);

t.test('a watch learns of a write made behind the broker from its poller, past the cached value', async (t) => {
  // Prepare: the cache holds the first value for a minute.
  const { backend, broker } = await setup(t, { watch: { pollIntervalMs: 10 } });
  const created = await broker.create({ id: 'a', value: 'one' });
  backend.writeOutside('a', 'two');

  // Act
  const answer = await broker.watch('a', created.version, LONG_WAIT_MS);

  // Assess
  t.equal(outcome(answer), 'two');
});

t.test('a watch ends early, unchanged, when its caller leaves', async (t) => {
  // Prepare
  const { broker } = await setup(t);
  const created = await broker.create({ id: 'a', value: 'one' });
  const caller = new AbortController();

  // Act
  const watching = broker.watch('a', created.version, LONG_WAIT_MS, caller.signal);
  await new Promise((resolve) => setImmediate(resolve));
  caller.abort();

  // Assess
  t.equal(outcome(await watching), 'not modified');
});

t.test('at shutdown every pending watch answers unchanged at once, and so does any later one', async (t) => {
  // Prepare
  const { broker } = await setup(t);
  const created = await broker.create({ id: 'a', value: 'one' });
  const pending = [broker.watch('a', created.version, LONG_WAIT_MS), broker.watch('a', created.version, LONG_WAIT_MS)];
  await new Promise((resolve) => setImmediate(resolve));

  // Act
  broker.releaseWatches();
  const later = await broker.watch('a', created.version, LONG_WAIT_MS);

  // Assess
  t.same((await Promise.all(pending)).map(outcome), ['not modified', 'not modified']);
  t.equal(outcome(later), 'not modified');
});

t.test('a watch counts against the cap only while it is held', async (t) => {
  // Prepare
  const { broker } = await setup(t, { watch: { maxWatches: 1 } });
  const created = await broker.create({ id: 'a', value: 'one' });
  await broker.watch('a', created.version, 10);
  const caller = new AbortController();

  // Act
  const held = broker.watch('a', created.version, LONG_WAIT_MS, caller.signal);
  const refused = await broker.watch('a', created.version, 10).catch((err: unknown) => err);
  caller.abort();

  // Assess
  t.equal(outcome(await held), 'not modified', 'the ended watch gave its slot back');
  t.match(refused, { code: 'backend_unavailable' }, 'one watch held is the cap');
});

t.test('a watch of an invalid or forbidden id is refused as such, without ever holding a slot', async (t) => {
  // Prepare
  const held: number[] = [];
  const { broker } = await setup(t, {
    policy: new AccessPolicy({ read: ['^app/'] }),
    watch: { events: { watches: (active) => held.push(active), poll: () => undefined } },
  });

  // Act
  const invalid = await broker.watch('a//b', '1', 10).catch((err: unknown) => err);
  const forbidden = await broker.watch('other/x', '1', 10).catch((err: unknown) => err);

  // Assess
  t.match(invalid, { code: 'invalid_id' });
  t.match(forbidden, { code: 'forbidden' });
  t.same(held, [], 'the number of watches held never moved');
});
