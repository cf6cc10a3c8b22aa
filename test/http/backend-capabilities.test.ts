/**
 * The broker asks the store what it can do: a request that needs an ability the store lacks is
 * refused with 400 `invalid_request` naming the backend and the ability, before the store is
 * called, instead of being answered as if it had worked. The in-memory test store is told which
 * abilities to lack; the file, AWS and Vault stores have them all (their conformance suite).
 */
import t, { type Test } from 'tap';
import type { BackendCapabilities } from '../../agent/backends/contract.js';
import { buildTestApp } from '../helpers/broker-app.js';
import { MemoryBackend } from '../helpers/memory-backend.js';

const json = (res: { body: string }) => JSON.parse(res.body);

async function storeLacking(t: Test, lacking: (keyof BackendCapabilities)[], cacheTtlMs?: number) {
  const backend = new MemoryBackend(3, lacking);
  const api = await buildTestApp(backend, {
    retry: { maxAttempts: 1 },
    ...(cacheTtlMs === undefined ? {} : { cacheTtlMs }),
  });
  t.teardown(() => api.close());
  const created = await api.call({ method: 'POST', url: '/secrets', body: { id: 'app/db', value: 'v1' } });
  return { backend, api, etag: created.headers.etag as string };
}

function assertRefused(t: Test, res: { statusCode: number; body: string }, detail: string) {
  t.equal(res.statusCode, 400);
  t.match(json(res), { code: 'invalid_request', detail });
}

t.test('a store without version reads refuses ?version with 400, and reads the current value', async (t) => {
  // Prepare
  const { backend, api } = await storeLacking(t, ['versionReads']);
  const getsBefore = backend.calls.get;

  // Act
  const older = await api.call({
    method: 'GET',
    url: '/secrets/app/db?version=1',
    headers: { 'cache-control': 'no-cache' },
  });
  const current = await api.call({ method: 'GET', url: '/secrets/app/db', headers: { 'cache-control': 'no-cache' } });

  // Assess
  assertRefused(t, older, 'the memory backend cannot read an older version: leave out ?version');
  t.equal(current.statusCode, 200);
  t.equal(backend.calls.get, getsBefore + 1, 'only the current read reached the store');
});

t.test('a store without recoverable delete refuses a plain DELETE with 400 and deletes with force', async (t) => {
  // Prepare
  const { backend, api } = await storeLacking(t, ['recoverableDelete', 'restore']);

  // Act
  const plain = await api.call({ method: 'DELETE', url: '/secrets/app/db' });
  const stillThere = await api.call({ method: 'GET', url: '/secrets/app/db' });
  const forced = await api.call({ method: 'DELETE', url: '/secrets/app/db?force=true' });

  // Assess
  assertRefused(t, plain, 'the memory backend cannot delete recoverably: delete with ?force=true');
  t.equal(stillThere.statusCode, 200, 'the refused delete left the secret in place');
  t.equal(forced.statusCode, 204);
  t.equal(backend.calls.delete, 1, 'only the forced delete reached the store');
});

t.test('a store without restore refuses :restore with 400 before asking the store', async (t) => {
  // Prepare
  const { backend, api } = await storeLacking(t, ['restore']);
  await api.call({ method: 'DELETE', url: '/secrets/app/db' });
  const describesBefore = backend.calls.describe;

  // Act
  const res = await api.call({ method: 'POST', url: '/secrets/app/db:restore' });

  // Assess
  assertRefused(t, res, 'the memory backend cannot restore a deleted secret');
  t.equal(backend.calls.describe, describesBefore);
  t.equal(backend.calls.restore, 0);
});

t.test('a store without check-and-set refuses If-Match writes with 400 and keeps the value', async (t) => {
  // Prepare
  const { api, etag } = await storeLacking(t, ['checkAndSet']);

  // Act
  const conditional = await api.call({
    method: 'PUT',
    url: '/secrets/app/db',
    headers: { 'if-match': etag },
    body: { value: 'v2' },
  });
  const conditionalDelete = await api.call({
    method: 'DELETE',
    url: '/secrets/app/db?force=true',
    headers: { 'if-match': etag },
  });
  const after = await api.call({ method: 'GET', url: '/secrets/app/db', headers: { 'cache-control': 'no-cache' } });
  const plain = await api.call({ method: 'PUT', url: '/secrets/app/db', body: { value: 'v3' } });

  // Assess
  const detail = 'the memory backend cannot make a write conditional on a version: leave out If-Match';
  assertRefused(t, conditional, detail);
  assertRefused(t, conditionalDelete, detail);
  t.equal(json(after).value, 'v1', 'the refused writes changed nothing');
  t.equal(plain.statusCode, 200, 'an unconditional write still works');
});

t.test('a store without batch reads still answers a batch read, with one read per id', async (t) => {
  // Prepare: no cache, so every id is read from the store
  const { backend, api } = await storeLacking(t, ['batchRead'], 0);
  await api.call({ method: 'POST', url: '/secrets', body: { id: 'app/other', value: 'v1' } });
  const getsBefore = backend.calls.get;

  // Act
  const res = await api.call({
    method: 'POST',
    url: '/secrets:batchGet',
    headers: { 'cache-control': 'no-cache' },
    body: { ids: ['app/db', 'app/other'] },
  });

  // Assess
  t.equal(res.statusCode, 200);
  t.same(
    json(res).secrets.map((s: { id: string }) => s.id),
    ['app/db', 'app/other'],
  );
  t.equal(backend.calls.get, getsBefore + 2, 'one get per id: the only read the store has');
});
