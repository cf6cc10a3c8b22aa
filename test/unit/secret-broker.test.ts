import t, { type Test } from 'tap';
import type { CallOptions, CreateInput, DeleteInput, PutInput } from '../../agent/backends/contract.js';
import { SecretError } from '../../agent/backends/errors.js';
import { AccessPolicy } from '../../agent/broker/access-policy.js';
import { NotModified } from '../../agent/broker/secret-broker.js';
import { FileSecretLocks } from '../../agent/broker/secret-locks.js';
import { FAST_RETRY } from '../helpers/broker-app.js';
import { brokerFixture } from '../helpers/broker-fixture.js';
import { MemoryBackend } from '../helpers/memory-backend.js';

/** The broker most tests here use: small backend pages, writers that wait, stale values served a minute. */
function setup(t: Test, options: { policy?: AccessPolicy; ttlMs?: number } = {}) {
  return brokerFixture(t, {
    backend: new MemoryBackend(3),
    lockWaitMs: 200,
    cache: { ttlMs: options.ttlMs ?? 60_000, maxEntries: 100, staleIfErrorMs: 60_000 },
    policy: options.policy,
  });
}

const transient = () => new SecretError('backend_unavailable', 'down for a moment');

t.test('a transient backend failure is retried and the read succeeds', async (t) => {
  // Prepare
  const { backend, broker } = await setup(t, { ttlMs: 0 });
  await broker.create({ id: 'a', value: 'one' });
  backend.failNext('get', transient(), 2);
  // Act
  const read = await broker.read('a');
  // Assess
  t.equal(read.record.value, 'one');
  t.equal(backend.calls.get, 3, 'two failures, then the success');
});

t.test('retries stop at maxAttempts and the last error surfaces', async (t) => {
  const { backend, broker } = await setup(t, { ttlMs: 0 });
  await broker.create({ id: 'a', value: 'one' });
  backend.failNext('get', transient(), 10);
  await t.rejects(broker.read('a'), { code: 'backend_unavailable' });
  t.equal(backend.calls.get, FAST_RETRY.maxAttempts, 'exactly maxAttempts calls');
});

t.test('a non-transient failure is not retried', async (t) => {
  const { backend, broker } = await setup(t, { ttlMs: 0 });
  await broker.create({ id: 'a', value: 'one' });
  backend.failNext('get', new SecretError('forbidden', 'no'), 1);
  await t.rejects(broker.read('a'), { code: 'forbidden' });
  t.equal(backend.calls.get, 1);
});

t.test('a stale cached value is served while the backend fails transiently', async (t) => {
  let now = 0;
  const { backend, broker } = await brokerFixture(t, {
    backend: new MemoryBackend(),
    lockWaitMs: 200,
    cache: { ttlMs: 1000, maxEntries: 10, staleIfErrorMs: 5000, now: () => now },
    retry: { ...FAST_RETRY, maxAttempts: 1 },
  });
  await broker.create({ id: 'a', value: 'one' });
  now = 2000;
  backend.failNext('get', transient(), 1);
  const stale = await broker.read('a');
  t.equal(stale.cache, 'stale');
  t.equal(stale.record.value, 'one');
  now = 10_000;
  backend.failNext('get', transient(), 1);
  await t.rejects(broker.read('a'), { code: 'backend_unavailable' }, 'too old to serve stale');
});

t.test('If-Match is checked under the lock against the backend version', async (t) => {
  const { backend, broker } = await setup(t);
  const created = await broker.create({ id: 'a', value: 'one' });
  backend.writeOutside('a', 'changed elsewhere');
  await t.rejects(broker.update('a', { value: 'two', ifMatch: created.version }), { code: 'precondition_failed' });
  const read = await broker.read('a', { bypassCache: true });
  t.equal(read.record.value, 'changed elsewhere', 'the outside write was not lost');
});

t.test('writes update the cache at once', async (t) => {
  const { backend, broker } = await setup(t);
  await broker.create({ id: 'a', value: 'one' });
  await broker.update('a', { value: 'two' });
  const read = await broker.read('a');
  t.equal(read.record.value, 'two');
  t.equal(read.cache, 'hit');
  t.equal(backend.calls.get, 0, 'no backend read needed');
  await broker.remove('a');
  await t.rejects(broker.read('a'), { code: 'not_found' }, 'a delete evicts the entry');
});

t.test('a held lock makes a writer wait, then answer locked; readers see locked: true', async (t) => {
  const { locks, broker } = await setup(t);
  await broker.create({ id: 'a', value: 'one' });
  const held = await locks.acquire('a');
  t.teardown(() => held.release());
  t.equal((await broker.read('a')).locked, true, 'GET reports the lock');
  t.equal((await broker.list({})).items[0]?.locked, true, 'list reports the lock');
  await t.rejects(broker.update('a', { value: 'two' }), { code: 'locked', retryAfterMs: Number });
  await held.release();
  t.equal((await broker.read('a')).locked, false);
  await broker.update('a', { value: 'two' });
});

t.test('the policy restricts verbs by id pattern', async (t) => {
  const policy = new AccessPolicy({ update: ['^app/'], delete: [], list: ['^app/'] });
  const { broker } = await setup(t, { policy });
  await broker.create({ id: 'app/x', value: '1' });
  await broker.create({ id: 'infra/y', value: '2' });
  await broker.update('app/x', { value: '3' });
  await t.rejects(broker.update('infra/y', { value: '4' }), { code: 'forbidden' });
  await t.rejects(broker.remove('app/x'), { code: 'forbidden' }, 'an empty list allows nothing');
  const listed = await broker.list({});
  t.same(
    listed.items.map((i) => i.id),
    ['app/x'],
    'list shows only what the policy allows',
  );
});

t.test('list gathers matches across backend pages and resumes mid-page', async (t) => {
  const { backend, broker } = await setup(t);
  const ids = Array.from({ length: 10 }, (_, i) => `svc/${String(i).padStart(2, '0')}`);
  for (const id of ids) await broker.create({ id, value: 'v' });
  await broker.create({ id: 'zzz/other', value: 'v' });
  const seen: string[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 20; i++) {
    const page = await broker.list({ filter: '[13579]$', limit: 2, ...(cursor ? { cursor } : {}) });
    seen.push(...page.items.map((item) => item.id));
    cursor = page.nextCursor;
    if (!cursor) break;
  }
  t.same(seen, ['svc/01', 'svc/03', 'svc/05', 'svc/07', 'svc/09'], 'every match once, in order');
  t.ok(backend.calls.listPage > 4, 'several backend pages were read');
});

t.test('an anchored filter narrows the backend listing by its literal prefix', async (t) => {
  const { backend, broker } = await setup(t);
  await broker.create({ id: 'prod/db', value: 'v' });
  await broker.create({ id: 'test/db', value: 'v' });
  const page = await broker.list({ filter: '^prod/' });
  t.same(
    page.items.map((i) => i.id),
    ['prod/db'],
  );
  await broker.list({ filter: 'db$' });
  t.same(backend.listPrefixes, ['prod/', undefined], 'prefix sent only for an anchored literal start');
});

t.test('invalid ids and oversized values are refused before any backend call', async (t) => {
  const { backend, broker } = await setup(t);
  await t.rejects(broker.create({ id: 'a//b', value: 'x' }), { code: 'invalid_id' });
  await t.rejects(broker.create({ id: 'ok', value: 'x'.repeat(65_537) }), { code: 'payload_too_large' });
  await t.rejects(broker.read('../etc'), { code: 'invalid_id' });
  t.equal(backend.calls.create + backend.calls.get, 0);
});

/** Records what the broker hands each backend call, and whether it was closed. */
class RecordingBackend extends MemoryBackend {
  readonly handed: { operation: string; input?: unknown; options?: CallOptions }[] = [];
  closed = false;

  override async get(id: string, version: string | undefined, options?: CallOptions) {
    this.handed.push({ operation: 'get', ...(options ? { options } : {}) });
    return super.get(id, version, options);
  }
  override async create(input: CreateInput, options?: CallOptions) {
    this.handed.push({ operation: 'create', input, ...(options ? { options } : {}) });
    return super.create(input, options);
  }
  override async put(id: string, input: PutInput, options?: CallOptions) {
    this.handed.push({ operation: 'put', input, ...(options ? { options } : {}) });
    return super.put(id, input, options);
  }
  override async delete(id: string, input: DeleteInput, options?: CallOptions) {
    this.handed.push({ operation: 'delete', input, ...(options ? { options } : {}) });
    return super.delete(id, input, options);
  }
  override async close() {
    this.closed = true;
  }
  of(operation: string) {
    return this.handed.filter((call) => call.operation === operation);
  }
}

/** A broker over a RecordingBackend, for the tests of what each verb hands the backend. */
function recordingSetup(t: Test, ttlMs = 0) {
  return brokerFixture(t, {
    backend: new RecordingBackend(),
    lockWaitMs: 0,
    cache: { ttlMs, maxEntries: 10, staleIfErrorMs: 0 },
  });
}

t.test('a DELETE without force is recoverable: the id stays taken until the recovery window ends', async (t) => {
  // Prepare
  const { backend, broker } = await recordingSetup(t);
  await broker.create({ id: 'a', value: 'one' });

  // Act
  await broker.remove('a');
  const recreate = broker.create({ id: 'a', value: 'two' });

  // Assess
  await t.rejects(recreate, { code: 'pending_deletion' });
  t.same(
    backend.of('delete').map((call) => (call.input as DeleteInput).force),
    [false],
  );
});

t.test('a DELETE with force=true is permanent and frees the id at once', async (t) => {
  // Prepare
  const { backend, broker } = await recordingSetup(t);
  await broker.create({ id: 'a', value: 'one' });

  // Act
  await broker.remove('a', { force: true });
  const recreated = await broker.create({ id: 'a', value: 'two' });

  // Assess
  t.equal(recreated.id, 'a');
  t.equal((backend.of('delete')[0]?.input as DeleteInput | undefined)?.force, true);
});

t.test(
  'a secret pending deletion cannot be updated or deleted again without force: 404, no backend write',
  async (t) => {
    // Prepare
    const { backend, broker } = await recordingSetup(t);
    await broker.create({ id: 'a', value: 'one' });
    await broker.remove('a');

    // Act
    const update = await broker.update('a', { value: 'two' }).catch((err: unknown) => err);
    const deleteAgain = await broker.remove('a').catch((err: unknown) => err);

    // Assess
    t.match(update, { code: 'not_found' });
    t.match(deleteAgain, { code: 'not_found' });
    t.equal(backend.of('put').length, 0, 'no put reached the backend');
    t.equal(backend.of('delete').length, 1, 'only the first delete reached the backend');
  },
);

t.test('a forced DELETE of a secret pending deletion goes through, without a version condition', async (t) => {
  // Prepare
  const { backend, broker } = await recordingSetup(t);
  await broker.create({ id: 'a', value: 'one' });
  await broker.remove('a');

  // Act
  await broker.remove('a', { force: true });

  // Assess
  t.same(backend.of('delete')[1]?.input, { force: true });
});

t.test(
  'a DELETE hands the backend the version read under the lock, so a change in between is not deleted',
  async (t) => {
    // Prepare
    const { backend, broker } = await recordingSetup(t);
    await broker.create({ id: 'a', value: 'one' });
    const updated = await broker.update('a', { value: 'two' });

    // Act
    await broker.remove('a', { ifMatch: updated.version });

    // Assess
    t.same(backend.of('delete')[0]?.input, { force: false, ifVersion: updated.version });
  },
);

t.test('an update hands the backend the version read under the lock', async (t) => {
  // Prepare
  const { backend, broker } = await recordingSetup(t);
  const created = await broker.create({ id: 'a', value: 'one' });

  // Act
  await broker.update('a', { value: 'two' });

  // Assess
  t.equal((backend.of('put')[0]?.input as PutInput | undefined)?.ifVersion, created.version);
});

t.test('backend calls get an abort signal, and each write one idempotency token kept across its retries', async (t) => {
  // Prepare
  const { backend, broker } = await recordingSetup(t);
  await broker.create({ id: 'a', value: 'one' });
  backend.failNext('put', transient(), 1);

  // Act
  await broker.update('a', { value: 'two' });
  await broker.update('a', { value: 'three' });
  await broker.read('a');
  await broker.remove('a');

  // Assess
  for (const call of backend.handed) t.type(call.options?.signal, AbortSignal, `${call.operation} gets a signal`);
  const putTokens = backend.of('put').map((call) => call.options?.requestToken);
  t.equal(putTokens.length, 3, 'a failed attempt, its retry, then the second update');
  t.type(putTokens[0], 'string');
  t.equal(putTokens[1], putTokens[0], 'the retry carries the same token');
  t.not(putTokens[2], putTokens[0], 'another request, another token');
  t.type(backend.of('create')[0]?.options?.requestToken, 'string');
  t.type(backend.of('delete')[0]?.options?.requestToken, 'string');
});

t.test(
  'close answers pending watches, releases the locks held, forgets cached values and closes the backend',
  async (t) => {
    // Prepare
    const { backend, locks, cache, broker, lockDir } = await recordingSetup(t, 60_000);
    const created = await broker.create({ id: 'b', value: 'cached' });
    const watching = broker.watch('b', created.version, 600_000);
    await locks.acquire('a');
    const otherProcess = new FileSecretLocks({ dir: lockDir, waitMs: 0, staleMs: 10_000 });

    // Act
    await broker.close();

    // Assess
    t.ok((await watching) instanceof NotModified, 'the pending watch answered unchanged');
    t.equal(cache.size, 0, 'no value stays in memory');
    t.equal(backend.closed, true);
    const taken = await otherProcess.acquire('a');
    t.pass('another process takes the lock at once');
    await taken.release();
  },
);

t.test('a cold read while the backend hangs ends with backend_timeout at the deadline', async (t) => {
  // Prepare
  const { backend, broker } = await brokerFixture(t, {
    backend: new MemoryBackend(),
    lockWaitMs: 0,
    cache: { ttlMs: 60_000, maxEntries: 10, staleIfErrorMs: 60_000 },
    retry: { ...FAST_RETRY, attemptTimeoutMs: 20, deadlineMs: 60 },
  });
  await broker.create({ id: 'a', value: 'one' });
  await broker.read('a', { bypassCache: true });
  backend.delayMs = 5_000;

  // Act
  const cold = broker.read('b');

  // Assess
  await t.rejects(cold, { code: 'backend_timeout' });
});
