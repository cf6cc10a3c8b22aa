/**
 * The rules the broker applies to every verb before and around the backend: ids, values and
 * metadata, the policy, encodings, If-Match, and what each verb reports as the operations it ran.
 */
import t, { type Test } from 'tap';
import { SecretError } from '../../agent/backends/errors.js';
import { AccessPolicy } from '../../agent/broker/access-policy.js';
import { NotModified } from '../../agent/broker/secret-broker.js';
import { FAST_RETRY } from '../helpers/broker-app.js';
import { brokerFixture } from '../helpers/broker-fixture.js';
import { MemoryBackend } from '../helpers/memory-backend.js';

/** A broker that records the name of every backend operation it runs, for the tests of what each verb runs. */
async function setup(t: Test, options: { policy?: AccessPolicy; ttlMs?: number } = {}) {
  const operations: string[] = [];
  const { backend, broker, locks } = await brokerFixture(t, {
    backend: new MemoryBackend(10),
    lockWaitMs: 50,
    cache: { ttlMs: options.ttlMs ?? 60_000, maxEntries: 10, staleIfErrorMs: 0 },
    policy: options.policy,
    observer: { backendCall: (operation) => operations.push(operation) },
  });
  return { backend, broker, locks, operations };
}

const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 'none',
    (err: unknown) => (err instanceof SecretError ? err.code : String(err)),
  );

function backendCalls(backend: MemoryBackend): number {
  return Object.values(backend.calls).reduce((sum, n) => sum + n, 0);
}

t.test(
  'every verb refuses an invalid id, and every write an invalid value or metadata, before any backend call',
  async (t) => {
    // Prepare
    const { backend, broker } = await setup(t);
    const tooManyTags = Object.fromEntries(Array.from({ length: 51 }, (_, n) => [`k${n}`, 'v']));
    const longDescription = 'd'.repeat(2049);

    // Act
    const codes = {
      read: await codeOf(broker.read('a//b')),
      conditionalRead: await codeOf(broker.readIfNoneMatch('a//b', { any: true })),
      update: await codeOf(broker.update('a//b', { value: 'v' })),
      remove: await codeOf(broker.remove('a//b')),
      restore: await codeOf(broker.restore('a//b')),
      updateValue: await codeOf(broker.update('a', { value: 'x'.repeat(65_537) })),
      updateBase64: await codeOf(broker.update('a', { value: 'not base64', encoding: 'base64' })),
      createTags: await codeOf(broker.create({ id: 'a', value: 'v', tags: tooManyTags })),
      updateDescription: await codeOf(broker.update('a', { value: 'v', description: longDescription })),
    };

    // Assess
    t.same(codes, {
      read: 'invalid_id',
      conditionalRead: 'invalid_id',
      update: 'invalid_id',
      remove: 'invalid_id',
      restore: 'invalid_id',
      updateValue: 'payload_too_large',
      updateBase64: 'invalid_request',
      createTags: 'invalid_request',
      updateDescription: 'invalid_request',
    });
    t.equal(backendCalls(backend), 0);
  },
);

t.test(
  'the read and create policies hold for every verb they govern, a cached conditional read included, after the id check',
  async (t) => {
    // Prepare: creating `other/x` is allowed and puts it in the cache; reading it is not.
    const policy = new AccessPolicy({ read: ['^app/'], create: ['^other/'] });
    const { broker } = await setup(t, { policy });
    const created = await broker.create({ id: 'other/x', value: 'v' });

    // Act
    const codes = {
      read: await codeOf(broker.read('other/x')),
      conditionalRead: await codeOf(broker.readIfNoneMatch('other/x', { version: created.version })),
      invalidConditionalRead: await codeOf(broker.readIfNoneMatch('other//x', { any: true })),
      create: await codeOf(broker.create({ id: 'app/y', value: 'v' })),
      restore: await codeOf(broker.restore('app/y')),
    };

    // Assess
    t.same(codes, {
      read: 'forbidden',
      conditionalRead: 'forbidden',
      invalidConditionalRead: 'invalid_id',
      create: 'forbidden',
      restore: 'forbidden',
    });
  },
);

t.test('a value written without an encoding is text, and a base64 value stays base64', async (t) => {
  // Prepare
  const { broker } = await setup(t, { ttlMs: 0 });

  // Act
  await broker.create({ id: 'text', value: 'plain' });
  await broker.create({ id: 'bytes', value: 'AAEC', encoding: 'base64' });
  const created = [(await broker.read('text')).record.encoding, (await broker.read('bytes')).record.encoding];
  await broker.update('text', { value: 'plainer' });
  await broker.update('bytes', { value: 'AAED', encoding: 'base64' });
  const updated = [(await broker.read('text')).record.encoding, (await broker.read('bytes')).record.encoding];

  // Assess
  t.same(created, ['utf8', 'base64'], 'as created');
  t.same(updated, ['utf8', 'base64'], 'as updated');
});

t.test('If-Match guards a delete: a stale version is 412 and the secret stays', async (t) => {
  // Prepare
  const { broker } = await setup(t);
  const first = await broker.create({ id: 'a', value: 'one' });
  const second = await broker.update('a', { value: 'two' });

  // Act
  const stale = await codeOf(broker.remove('a', { ifMatch: first.version }));

  // Assess
  t.equal(stale, 'precondition_failed');
  t.equal((await broker.read('a', { bypassCache: true })).record.value, 'two');
  t.equal(await codeOf(broker.remove('a', { ifMatch: second.version })), 'none', 'the current version deletes');
});

t.test('an update whose If-Match names the current version goes through', async (t) => {
  // Prepare
  const { broker } = await setup(t);
  const created = await broker.create({ id: 'a', value: 'one' });

  // Act
  const updated = await broker.update('a', { value: 'two', ifMatch: created.version });

  // Assess
  t.not(updated.version, created.version);
  t.equal((await broker.read('a')).record.value, 'two');
});

t.test('refusals name the secret and the reason', async (t) => {
  // Prepare
  const { broker } = await setup(t);
  const created = await broker.create({ id: 'a', value: 'one' });
  await broker.update('a', { value: 'two' });
  await broker.create({ id: 'gone', value: 'v' });
  await broker.remove('gone');

  // Act
  const messageOf = (promise: Promise<unknown>) =>
    promise.then(
      () => '',
      (err: Error) => err.message,
    );
  const messages = {
    stale: await messageOf(broker.update('a', { value: 'three', ifMatch: created.version })),
    restoreLive: await messageOf(broker.restore('a')),
    updateDeleted: await messageOf(broker.update('gone', { value: 'v' })),
    deleteDeleted: await messageOf(broker.remove('gone')),
  };

  // Assess
  t.same(messages, {
    stale: "secret 'a' has changed since the version given in If-Match",
    restoreLive: "secret 'a' is not deleted: there is nothing to restore",
    updateDeleted: "secret 'gone' does not exist",
    deleteDeleted: "secret 'gone' does not exist",
  });
});

t.test('each verb reports the backend operations it ran, by name', async (t) => {
  // Prepare
  const { broker, operations } = await setup(t, { ttlMs: 0 });

  // Act
  await broker.create({ id: 'a', value: 'one' });
  await broker.update('a', { value: 'two' });
  await broker.read('a');
  await broker.readMany(['a']);
  await broker.list({});
  await broker.remove('a');
  await broker.restore('a');
  await broker.ready();

  // Assess
  t.same(operations, [
    'create',
    'describe',
    'put',
    'get',
    'get',
    'list',
    'describe',
    'delete',
    'describe',
    'restore',
    'get',
    'ready',
  ]);
});

t.test('the backend kind is the one the broker serves', async (t) => {
  // Act
  const { broker } = await setup(t);

  // Assess
  t.equal(broker.backendKind, 'memory');
});

t.test('a conditional read whose version differs answers the value, not NotModified', async (t) => {
  // Prepare
  const { broker } = await setup(t);
  await broker.create({ id: 'a', value: 'one' });

  // Act
  const read = await broker.readIfNoneMatch('a', { version: 'not-the-version' });

  // Assess
  t.notOk(read instanceof NotModified);
  t.equal(read instanceof NotModified ? undefined : read.record.value, 'one');
});

t.test(
  'a watcher hears of current versions only: not of a pinned read, and "gone" only when the secret is missing',
  async (t) => {
    // Prepare
    const { backend, broker } = await setup(t, { ttlMs: 0 });
    const first = await broker.create({ id: 'a', value: 'one' });
    const second = await broker.update('a', { value: 'two' });
    const heardA: (string | undefined)[] = [];
    const heardB: (string | undefined)[] = [];
    broker.onVersionChange('a', (version) => heardA.push(version));
    broker.onVersionChange('b', (version) => heardB.push(version));

    // Act
    await broker.read('a');
    await broker.read('a', { version: first.version });
    backend.failNext('get', new SecretError('backend_error', 'bad answer'));
    await codeOf(broker.read('a'));
    await codeOf(broker.read('b', { version: '7' }));
    const heardOfPinned = [...heardB];
    await codeOf(broker.read('b'));

    // Assess
    t.same(heardA, [second.version], 'the pinned read and the failed read announce nothing');
    t.same(heardOfPinned, [], 'a missing pinned version says nothing of the current one');
    t.same(heardB, [undefined], 'a missing current version is announced as gone');
  },
);

t.test('a batch read hears of versions written behind the broker and says which ids are locked', async (t) => {
  // Prepare
  const { backend, broker, locks } = await setup(t, { ttlMs: 0 });
  await broker.create({ id: 'a', value: 'one' });
  await broker.create({ id: 'b', value: 'held' });
  const heard: (string | undefined)[] = [];
  broker.onVersionChange('a', (version) => heard.push(version));
  backend.writeOutside('a', 'two');
  const held = await locks.acquire('b');
  t.teardown(() => held.release());

  // Act
  const [item, heldItem] = await broker.readMany(['a', 'b']);
  const read = item !== undefined && 'read' in item ? item.read : undefined;

  // Assess
  t.equal(read?.record.value, 'two');
  t.same(heard, [read?.response.version]);
  t.equal(read?.locked, false);
  t.equal(heldItem !== undefined && 'read' in heldItem ? heldItem.read.locked : undefined, true);
});

t.test(
  'a batch read names the forbidden id in its error, and an unexpected failure fails the whole batch',
  async (t) => {
    // Prepare
    const { backend, broker } = await setup(t, { policy: new AccessPolicy({ read: ['^app/'] }), ttlMs: 0 });
    await broker.create({ id: 'app/a', value: 'one' });

    // Act
    const [forbidden] = await broker.readMany(['other/x']);
    backend.failNext('get', new TypeError('a bug'));
    const unexpected = await broker.readMany(['app/a']).then(
      () => 'answered',
      (err: Error) => err.name,
    );

    // Assess
    t.equal(
      forbidden !== undefined && 'error' in forbidden ? forbidden.error.message : undefined,
      "policy does not allow read on secret 'other/x'",
    );
    t.equal(unexpected, 'TypeError');
  },
);

t.test('after a write whose outcome is unknown, the next read asks the backend instead of the cache', async (t) => {
  // Prepare: the value is cached; then every attempt of the update times out.
  const { backend, broker } = await setup(t);
  await broker.create({ id: 'a', value: 'one' });
  backend.failNext('put', new SecretError('backend_timeout', 'no answer'), FAST_RETRY.maxAttempts);
  const getsBefore = backend.calls.get;

  // Act
  await codeOf(broker.update('a', { value: 'two' }));
  const read = await broker.read('a');

  // Assess
  t.equal(backend.calls.get, getsBefore + 1);
  t.equal(read.cache, 'miss');
});
