import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { SecretError } from '../../agent/backends/errors.js';
import { AccessPolicy } from '../../agent/broker/access-policy.js';
import { ReadThroughCache } from '../../agent/broker/read-through-cache.js';
import { SecretBroker } from '../../agent/broker/secret-broker.js';
import { FileSecretLocks } from '../../agent/broker/secret-locks.js';
import { FAST_RETRY } from '../helpers/broker-app.js';
import { MemoryBackend } from '../helpers/memory-backend.js';

async function setup(t: Test, options: { policy?: AccessPolicy; ttlMs?: number } = {}) {
  const lockDir = await mkdtemp(path.join(os.tmpdir(), 'sb-broker-'));
  t.teardown(() => rm(lockDir, { recursive: true, force: true }));
  const backend = new MemoryBackend(3);
  const locks = new FileSecretLocks({ dir: lockDir, waitMs: 200, staleMs: 10_000 });
  const cache = new ReadThroughCache({
    ttlMs: options.ttlMs ?? 60_000,
    maxEntries: 100,
    staleIfErrorMs: 60_000,
    jitterRatio: 0,
  });
  const broker = new SecretBroker({
    backend,
    locks,
    cache,
    retry: FAST_RETRY,
    ...(options.policy ? { policy: options.policy } : {}),
  });
  return { backend, locks, broker };
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
  const lockDir = await mkdtemp(path.join(os.tmpdir(), 'sb-broker-'));
  t.teardown(() => rm(lockDir, { recursive: true, force: true }));
  const backend = new MemoryBackend();
  const broker = new SecretBroker({
    backend,
    locks: new FileSecretLocks({ dir: lockDir, waitMs: 200, staleMs: 10_000 }),
    cache: new ReadThroughCache({ ttlMs: 1000, maxEntries: 10, staleIfErrorMs: 5000, jitterRatio: 0, now: () => now }),
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
