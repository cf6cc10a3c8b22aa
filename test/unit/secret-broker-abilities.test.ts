/**
 * What the broker asks of the store according to what the store can do: a request needing an
 * ability the store lacks is refused before the store is called, batch reads use the store's
 * `getMany` only where it has one, and the readiness check keeps the store's attempt timeout.
 */
import t, { type Test } from 'tap';
import type { BackendCapabilities } from '../../agent/backends/contract.js';
import { SecretError } from '../../agent/backends/errors.js';
import { brokerFixture } from '../helpers/broker-fixture.js';
import { BatchingMemoryBackend, MemoryBackend } from '../helpers/memory-backend.js';

/** An uncached broker that records the name of every backend operation it runs. */
async function setup<B extends MemoryBackend>(t: Test, backend: B) {
  const operations: string[] = [];
  const { broker } = await brokerFixture(t, {
    backend,
    lockWaitMs: 50,
    cache: { ttlMs: 0, maxEntries: 10, staleIfErrorMs: 0 },
    observer: { backendCall: (operation) => operations.push(operation) },
  });
  return { backend, broker, operations };
}

const LACKING: (keyof BackendCapabilities)[] = ['versionReads', 'recoverableDelete', 'restore', 'checkAndSet'];

const refusalOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 'none',
    (err: unknown) => (err instanceof SecretError ? `${err.code}: ${err.message}` : String(err)),
  );

function backendCalls(backend: MemoryBackend): number {
  return Object.values(backend.calls).reduce((sum, n) => sum + n, 0);
}

t.test(
  'a store lacking an ability refuses the request that needs it, naming both, before any store call',
  async (t) => {
    // Prepare
    const { backend, broker } = await setup(t, new MemoryBackend(3, LACKING));
    const created = await broker.create({ id: 'a', value: 'one' });
    const callsBefore = backendCalls(backend);

    // Act
    const refusals = {
      olderRead: await refusalOf(broker.read('a', { version: created.version })),
      conditionalUpdate: await refusalOf(broker.update('a', { value: 'two', ifMatch: created.version })),
      plainDelete: await refusalOf(broker.remove('a')),
      conditionalDelete: await refusalOf(broker.remove('a', { force: true, ifMatch: created.version })),
      restore: await refusalOf(broker.restore('a')),
    };

    // Assess
    const conditional =
      'invalid_request: the memory backend cannot make a write conditional on a version: leave out If-Match';
    t.same(refusals, {
      olderRead: 'invalid_request: the memory backend cannot read an older version: leave out ?version',
      conditionalUpdate: conditional,
      plainDelete: 'invalid_request: the memory backend cannot delete recoverably: delete with ?force=true',
      conditionalDelete: conditional,
      restore: 'invalid_request: the memory backend cannot restore a deleted secret',
    });
    t.equal(backendCalls(backend), callsBefore, 'no refused request reached the store');
  },
);

t.test('a store lacking those abilities still serves what does not need them', async (t) => {
  // Prepare
  const { broker } = await setup(t, new MemoryBackend(3, LACKING));
  await broker.create({ id: 'a', value: 'one' });

  // Act
  const current = await refusalOf(broker.read('a'));
  const plainUpdate = await refusalOf(broker.update('a', { value: 'two' }));
  const forcedDelete = await refusalOf(broker.remove('a', { force: true }));

  // Assess
  t.same([current, plainUpdate, forcedDelete], ['none', 'none', 'none']);
});

/** A store that declares batch reads but has no `getMany` to make them with. */
class DeclaredOnlyBackend extends MemoryBackend {
  override readonly capabilities = { ...new MemoryBackend().capabilities, batchRead: true };
}

t.test('a batch read uses getMany only on a store that both declares batch reads and has one', async (t) => {
  // Prepare
  const stores = {
    both: await setup(t, new BatchingMemoryBackend(true)),
    undeclared: await setup(t, new BatchingMemoryBackend(false)),
    declaredOnly: await setup(t, new DeclaredOnlyBackend()),
  };
  for (const { backend } of Object.values(stores)) {
    for (const id of ['x', 'y']) await backend.create({ id, value: `v-${id}`, encoding: 'utf8' });
  }

  // Act
  const values: Record<string, unknown[]> = {};
  for (const [name, { broker }] of Object.entries(stores)) {
    const items = await broker.readMany(['x', 'y']);
    values[name] = items.map((item) => ('read' in item ? item.read.record.value : item.error.code));
  }

  // Assess
  t.same(values, { both: ['v-x', 'v-y'], undeclared: ['v-x', 'v-y'], declaredOnly: ['v-x', 'v-y'] });
  t.same(stores.both.backend.batches, [['x', 'y']]);
  t.same(stores.both.operations, ['getMany'], 'one batch, reported as such');
  t.same(stores.undeclared.backend.batches, [], 'undeclared: single gets');
  t.same(stores.undeclared.operations, ['get', 'get']);
  t.same(stores.declaredOnly.operations, ['get', 'get']);
});

t.test('the readiness check gives a slow store its attempt timeout, only without retries', async (t) => {
  // Prepare: the store answers well within the attempt timeout (FAST_RETRY: 5 s).
  const { backend, broker } = await setup(t, new MemoryBackend());
  backend.delayMs = 50;

  // Act
  const outcome = await refusalOf(broker.ready());

  // Assess
  t.equal(outcome, 'none');
  t.equal(backend.calls.ready, 1);
});
