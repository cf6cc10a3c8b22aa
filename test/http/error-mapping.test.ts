import t, { type Test } from 'tap';
import { SecretError } from '../../agent/backends/errors.js';
import { buildHealthApp } from '../../agent/http/app.js';
import { createLogger } from '../../agent/observability/logger.js';
import { buildTestApp } from '../helpers/broker-app.js';
import { MemoryBackend } from '../helpers/memory-backend.js';

const json = (res: { body: string }) => JSON.parse(res.body);

async function setup(t: Test, options: Parameters<typeof buildTestApp>[1] = {}) {
  const backend = new MemoryBackend();
  const api = await buildTestApp(backend, { retry: { maxAttempts: 1 }, ...options });
  t.teardown(() => api.close());
  await api.call({ method: 'POST', url: '/secrets', body: { id: 'app/db', value: 'the-value-1' } });
  return { backend, api };
}

t.test('backend failures map to the status table with Retry-After where it applies', async (t) => {
  const cases: [SecretError, number, string | undefined][] = [
    [new SecretError('throttled', 'slow down', { retryAfterMs: 3000 }), 429, '3'],
    [new SecretError('backend_unavailable', 'sealed'), 503, '5'],
    [new SecretError('backend_timeout', 'timed out'), 504, undefined],
    [new SecretError('backend_error', 'kms key disabled'), 502, undefined],
    [new SecretError('forbidden', 'denied'), 403, undefined],
  ];
  for (const [error, status, retryAfter] of cases) {
    // Prepare
    const { backend, api } = await setup(t, { cacheTtlMs: 0 });
    backend.failNext('get', error);
    // Act
    const res = await api.call({ method: 'GET', url: '/secrets/app/db' });
    // Assess
    t.equal(res.statusCode, status, `${error.code} -> ${status}`);
    t.equal(json(res).code, error.code);
    t.equal(json(res).detail, error.message);
    t.equal(res.headers['retry-after'], retryAfter, `Retry-After for ${error.code}`);
  }
});

t.test('an unexpected error is 500 internal with no detail, logged with its cause', async (t) => {
  const { backend, api } = await setup(t, { cacheTtlMs: 0 });
  backend.failNext('get', new Error('database password is hunter2'));
  const res = await api.call({ method: 'GET', url: '/secrets/app/db' });
  t.equal(res.statusCode, 500);
  t.same(Object.keys(json(res)).sort(), ['code', 'requestId', 'status', 'title', 'type']);
  t.notOk(res.body.includes('hunter2'), 'the message stays out of the body');
  t.match(api.logText(), /unexpected error/, 'the error is logged');
});

t.test('a write that cannot get the lock is 423 with Retry-After', async (t) => {
  const { api } = await setup(t, { lockWaitMs: 50 });
  const locks = (await import('../../agent/broker/secret-locks.js')).FileSecretLocks;
  const other = new locks({ dir: api.lockDir, waitMs: 0, staleMs: 10_000 });
  const held = await other.acquire('app/db');
  t.teardown(() => held.release());
  const res = await api.call({ method: 'PUT', url: '/secrets/app/db', body: { value: 'x' } });
  t.equal(res.statusCode, 423);
  t.equal(json(res).code, 'locked');
  t.equal(res.headers['retry-after'], '1');
  const read = await api.call({ method: 'GET', url: '/secrets/app/db' });
  t.equal(json(read).locked, true, 'GET shows the lock');
  t.equal(json(read).value, 'the-value-1', 'the value is intact');
});

t.test('reads carry X-Cache and Age; no-cache refreshes', async (t) => {
  const { backend, api } = await setup(t);
  const first = await api.call({ method: 'GET', url: '/secrets/app/db' });
  t.equal(first.headers['x-cache'], 'hit', 'the create filled the cache');
  t.equal(first.headers.age, '0');
  t.equal(first.headers['cache-control'], 'no-store', 'responses with values are not cacheable downstream');
  const bypass = await api.call({ method: 'GET', url: '/secrets/app/db', headers: { 'cache-control': 'no-cache' } });
  t.equal(bypass.headers['x-cache'], 'miss');
  t.equal(backend.calls.get, 1);
});

t.test('If-Match must be one quoted version', async (t) => {
  const { api } = await setup(t);
  const res = await api.call({
    method: 'PUT',
    url: '/secrets/app/db',
    body: { value: 'x' },
    headers: { 'if-match': 'v1' },
  });
  t.equal(res.statusCode, 400);
  t.equal(json(res).code, 'invalid_request');
  const star = await api.call({
    method: 'PUT',
    url: '/secrets/app/db',
    body: { value: 'y' },
    headers: { 'if-match': '*' },
  });
  t.equal(star.statusCode, 200, '* means any current version');
});

t.test('the policy answers 403 forbidden', async (t) => {
  const { api } = await setup(t, { policy: { read: ['^public/'] } });
  const res = await api.call({ method: 'GET', url: '/secrets/app/db' });
  t.equal(res.statusCode, 403);
  t.equal(json(res).code, 'forbidden');
});

t.test('readiness follows the backend', async (t) => {
  const { backend, api } = await setup(t);
  backend.failNext('ready', new SecretError('forbidden', 'bad credentials'));
  const notReady = await api.app.inject({ method: 'GET', url: '/readyz' });
  t.equal(notReady.statusCode, 503, 'any backend failure is 503 on /readyz');
  t.equal((await api.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
});

t.test('the health app serves only health and metrics, without a token', async (t) => {
  const { api } = await setup(t);
  const health = await buildHealthApp({
    broker: api.broker,
    metrics: api.metrics,
    logger: createLogger('silent'),
    listener: 'health',
  });
  t.teardown(() => health.close());
  t.equal((await health.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
  t.equal((await health.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
  const metrics = await health.inject({ method: 'GET', url: '/metrics' });
  t.equal(metrics.statusCode, 200);
  t.match(metrics.body, /secrets_broker_backend_calls_total/);
  t.equal((await health.inject({ method: 'GET', url: '/secrets/app/db' })).statusCode, 404, 'no secrets API here');
  t.equal((await health.inject({ method: 'GET', url: '/openapi.json' })).statusCode, 404);
});

t.test('the OpenAPI document describes every route and its error bodies', async (t) => {
  const { api } = await setup(t);
  const doc = json(await api.call({ method: 'GET', url: '/openapi.json' }));
  t.equal(doc.openapi.slice(0, 2), '3.');
  t.ok(doc.paths['/secrets'].post && doc.paths['/secrets'].get);
  const item = doc.paths['/secrets/{id}'];
  t.ok(item.get && item.put && item.delete);
  t.same(item.get.parameters.find((p: { in: string }) => p.in === 'path')?.name, 'id');
  t.ok(item.put.responses['412'], '412 documented on PUT');
  t.notOk(JSON.stringify(doc).includes('/secrets/*'), 'no raw wildcard path');
});
