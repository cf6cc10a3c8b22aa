/**
 * What the broker reports of its backend calls (the metrics hooks), the readiness check, and the
 * listing it builds from the backend's pages.
 */
import t, { type Test } from 'tap';
import { SecretError } from '../../agent/backends/errors.js';
import { AccessPolicy } from '../../agent/broker/access-policy.js';
import { brokerFixture } from '../helpers/broker-fixture.js';
import { MemoryBackend } from '../helpers/memory-backend.js';

interface Reported {
  calls: [operation: string, outcome: string, seconds: number][];
  retries: [operation: string, code: string][];
}

/** An uncached broker that records what it reports of each backend call and each retry. */
async function setup(t: Test, policy?: AccessPolicy, backend = new MemoryBackend(2)) {
  const reported: Reported = { calls: [], retries: [] };
  const { broker, locks } = await brokerFixture(t, {
    backend,
    lockWaitMs: 50,
    cache: { ttlMs: 0, maxEntries: 10, staleIfErrorMs: 0 },
    policy,
    observer: {
      backendCall: (operation, outcome, seconds) => reported.calls.push([operation, outcome, seconds]),
      backendRetry: (operation, err) => reported.retries.push([operation, (err as SecretError).code]),
    },
  });
  return { backend, broker, locks, reported };
}

t.test('each backend operation is reported once with its outcome and a duration, retries counted apart', async (t) => {
  // Prepare
  const { backend, broker, reported } = await setup(t);
  await broker.create({ id: 'a', value: 'one' });
  backend.failNext('get', new SecretError('throttled', 'slow down'));
  reported.calls.length = 0;

  // Act
  const started = performance.now();
  await broker.read('a');
  await t.rejects(broker.read('never-written'), { code: 'not_found' });
  const tookSeconds = (performance.now() - started) / 1000;

  // Assess
  t.same(
    reported.calls.map(([operation, outcome]) => [operation, outcome]),
    [
      ['get', 'ok'],
      ['get', 'not_found'],
    ],
    'one report per operation, however many attempts it took',
  );
  t.ok(
    reported.calls.every(([, , seconds]) => seconds >= 0 && seconds <= tookSeconds),
    "each duration is in seconds, and the call's own: within the time both calls took",
  );
  t.same(reported.retries, [['get', 'throttled']]);
});

t.test('a failure that is not a SecretError is reported as internal', async (t) => {
  // Prepare
  const { backend, broker, reported } = await setup(t);
  backend.failNext('get', new TypeError('a bug in a backend'));

  // Act
  await t.rejects(broker.read('a'), TypeError);

  // Assess
  t.same(reported.calls.at(-1)?.slice(0, 2), ['get', 'internal']);
});

t.test('the readiness check asks the backend once, with no retry, and reports its failure', async (t) => {
  // Prepare
  const { backend, broker, reported } = await setup(t);
  backend.failNext('ready', new SecretError('backend_unavailable', 'down'));

  // Act
  const failed = await broker.ready().then(
    () => undefined,
    (err: SecretError) => err.code,
  );
  await broker.ready();

  // Assess
  t.equal(failed, 'backend_unavailable');
  t.equal(backend.calls.ready, 2, 'one call for each check: a probe wants the current truth');
  t.same(reported.retries, []);
  t.same(
    reported.calls.map(([operation, outcome]) => [operation, outcome]),
    [
      ['ready', 'backend_unavailable'],
      ['ready', 'ok'],
    ],
  );
});

t.test('a listing shows only the ids the list policy allows, each with whether it is locked', async (t) => {
  // Prepare
  const { broker, locks, backend } = await setup(t);
  const { broker: restricted } = await setup(t, new AccessPolicy({ list: ['^app/'] }), backend);
  for (const id of ['app/a', 'app/b', 'other/c']) await broker.create({ id, value: 'v' });
  const held = await locks.acquire('app/b');
  t.teardown(() => held.release());

  // Act
  const all = await broker.list({});
  const visible = await restricted.list({});

  // Assess
  t.same(
    all.items.map((item) => [item.id, item.locked]),
    [
      ['app/a', false],
      ['app/b', true],
      ['other/c', false],
    ],
  );
  t.equal(all.nextCursor, undefined, 'no cursor once everything is listed');
  t.ok(!('nextCursor' in all), 'and no empty cursor field either');
  t.same(
    visible.items.map((item) => item.id),
    ['app/a', 'app/b'],
  );
});
