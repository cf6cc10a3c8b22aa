/**
 * The HTTP side of restore, conditional reads and batch reads: custom-method routing, what a 304
 * carries, per-id error items, and what the OpenAPI document says of them.
 */
import t from 'tap';
import { SecretError } from '../../agent/backends/errors.js';
import { buildTestApp } from '../helpers/broker-app.js';
import { MemoryBackend } from '../helpers/memory-backend.js';

const json = (res: { body: string }) => JSON.parse(res.body);

t.test('a POST to a secret without a method suffix is 405, with one it names the id before the colon', async (t) => {
  // Prepare
  const backend = new MemoryBackend();
  const api = await buildTestApp(backend);
  t.teardown(() => api.close());
  await api.call({ method: 'POST', url: '/secrets', body: { id: 'a/b', value: 'v' } });
  await api.call({ method: 'DELETE', url: '/secrets/a/b' });

  // Act
  const bare = await api.call({ method: 'POST', url: '/secrets/a/b' });
  const encoded = await api.call({ method: 'POST', url: '/secrets/a%2Fb:restore' });
  const doubled = await api.call({ method: 'POST', url: '/secrets/a/b:restore:restore' });

  // Assess
  t.equal(bare.statusCode, 405);
  t.equal(bare.headers.allow, 'GET, HEAD, PUT, DELETE', 'Allow names what the id itself takes');
  t.equal(json(bare).code, 'invalid_request');
  t.equal(encoded.statusCode, 200, 'a %2F-encoded id takes methods too');
  t.equal(json(encoded).id, 'a/b');
  t.equal(doubled.statusCode, 400, 'everything after the first colon is the method name');
  t.equal(json(doubled).code, 'invalid_request');
});

t.test('a 304 carries the ETag, X-Cache and Age, and no body', async (t) => {
  const api = await buildTestApp(new MemoryBackend());
  t.teardown(() => api.close());
  const created = await api.call({ method: 'POST', url: '/secrets', body: { id: 'a', value: 'v' } });
  const res = await api.call({
    method: 'GET',
    url: '/secrets/a',
    headers: { 'if-none-match': `W/${created.headers.etag}` },
  });
  t.equal(res.statusCode, 304, 'a weak ETag matches too');
  t.equal(res.headers.etag, created.headers.etag);
  t.equal(res.headers['x-cache'], 'hit');
  t.match(res.headers.age, /^\d+$/);
  t.equal(res.body, '');
  t.notOk(res.headers['content-type'], 'no content type, since there is no content');
});

t.test('a batch read reports a forbidden id and a failing backend read per id', async (t) => {
  // Prepare
  const backend = new MemoryBackend();
  const api = await buildTestApp(backend, { policy: { read: ['^app/'] }, retry: { maxAttempts: 1 } });
  t.teardown(() => api.close());
  for (const id of ['app/ok', 'app/down', 'ops/secret'])
    await backend.create({ id, value: `${id}-value`, encoding: 'utf8' });
  backend.failNext('get', new SecretError('backend_unavailable', 'down'));

  // Act
  const res = await api.call({
    method: 'POST',
    url: '/secrets:batchGet',
    body: { ids: ['ops/secret', 'app/down', 'app/ok'] },
  });

  // Assess
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /^application\/json/);
  const body = json(res);
  t.same(body.errors, [
    { id: 'ops/secret', status: 403, code: 'forbidden' },
    { id: 'app/down', status: 503, code: 'backend_unavailable' },
  ]);
  t.same(
    body.secrets.map((s: { id: string }) => s.id),
    ['app/ok'],
  );
  t.notOk(res.body.includes('ops/secret-value'), 'the forbidden value is nowhere');
});

t.test('request metrics and logs name the batch read route as the API does: /secrets:batchGet', async (t) => {
  // Prepare
  const api = await buildTestApp(new MemoryBackend());
  t.teardown(() => api.close());
  await api.call({ method: 'POST', url: '/secrets', body: { id: 'a', value: 'v' } });

  // Act
  const res = await api.call({ method: 'POST', url: '/secrets:batchGet', body: { ids: ['a'] } });
  const text = await api.metrics.registry.metrics();

  // Assess
  t.equal(res.statusCode, 200);
  t.match(
    text,
    /secrets_broker_http_requests_total\{listener="test",method="POST",route="\/secrets:batchGet",status="200"\} 1/,
  );
  t.match(text, /secrets_broker_http_request_duration_seconds_count\{method="POST",route="\/secrets:batchGet"\} 1/);
  t.notMatch(text, /::batchGet/, 'no label carries the router’s escaped colon');
  t.match(api.logText(), /"route":"\/secrets:batchGet"/, 'the request log line names it the same way');
});

t.test('another method on /secrets:batchGet is 405 with Allow: POST, like any known path', async (t) => {
  // Prepare
  const api = await buildTestApp(new MemoryBackend());
  t.teardown(() => api.close());

  // Act
  const res = await api.call({ method: 'GET', url: '/secrets:batchGet' });

  // Assess
  t.equal(res.statusCode, 405);
  t.equal(res.headers.allow, 'POST');
  t.equal(json(res).code, 'invalid_request');
});

t.test('the OpenAPI document names the custom methods and the 304', async (t) => {
  const api = await buildTestApp(new MemoryBackend());
  t.teardown(() => api.close());
  const doc = json(await api.call({ method: 'GET', url: '/openapi.json' }));
  const restore = doc.paths['/secrets/{id}:restore']?.post;
  t.ok(restore, 'POST /secrets/{id}:restore');
  t.same(
    Object.keys(restore.responses).filter((s) => s < '300'),
    ['200'],
  );
  t.ok(restore.responses['409'], 'with its 409');
  t.same(
    restore.parameters.map((p: { name: string; in: string }) => [p.in, p.name]),
    [['path', 'id']],
  );
  const batch = doc.paths['/secrets:batchGet']?.post;
  t.ok(batch, 'POST /secrets:batchGet');
  t.match(batch.requestBody.content['application/json'].schema.properties.ids, { maxItems: 20, uniqueItems: true });
  t.ok(doc.paths['/secrets/{id}'].get.responses['304'], 'GET documents its 304');
  t.notOk(doc.paths['/secrets/{id}'].post, 'the restore route does not show as a POST to the id');
});
