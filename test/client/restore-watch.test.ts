/**
 * What the client sends for each call, and `restore` and `watch`, against a scripted server that
 * answers as docs/api.md documents, including answers a real broker rarely gives (watch-broker.test.ts
 * and restore-broker.test.ts run the same calls against a real broker).
 */
import t from 'tap';
import { SecretsBrokerClient, type SecretsBrokerError } from '../../agent/client/index.js';
import { problem, startScriptedServer } from './scripted-server.js';

const at = (version: string, value = `value ${version}`) => ({
  id: 'prod/db',
  value,
  version,
  encoding: 'utf8',
  locked: false,
});

t.test('each call sends the method, path, headers and query the API documents', async (t) => {
  // Prepare
  const written = { id: 'prod/db', version: '3', encoding: 'utf8' };
  const server = await startScriptedServer(t, [
    { status: 200, body: at('1') },
    { status: 200, body: written, headers: { etag: '"3"' } },
    { status: 204 },
    { status: 200, body: { items: [] } },
  ]);
  const client = new SecretsBrokerClient({ socketPath: server.socketPath });
  t.teardown(() => client.close());

  // Act
  await client.get('prod/db', { version: '1', noCache: true });
  await client.put('prod/db', { value: 'x' }, { ifMatch: '2' });
  await client.delete('prod/db', { force: true, ifMatch: '3' });
  await client.listPage({ filter: '^prod/', limit: 5, cursor: 'c1' });

  // Assess
  const [get, put, del, list] = server.requests;
  t.match(get, { method: 'GET', url: '/secrets/prod/db?version=1', headers: { 'cache-control': 'no-cache' } });
  t.match(put, { method: 'PUT', url: '/secrets/prod/db', headers: { 'if-match': '"2"' }, body: '{"value":"x"}' });
  t.match(del, { method: 'DELETE', url: '/secrets/prod/db?force=true', headers: { 'if-match': '"3"' } });
  t.match(list, { method: 'GET', url: '/secrets?filter=%5Eprod%2F&limit=5&cursor=c1' });
  t.ok(
    server.requests.every((r) => r.headers.authorization === `Bearer ${server.token}`),
    'every call carries the token',
  );
});

t.test('restore posts to /secrets/{id}:restore and answers the restored metadata', async (t) => {
  // Prepare
  const server = await startScriptedServer(t, [
    { status: 200, headers: { etag: '"4"' }, body: { id: 'prod/db', version: '4', encoding: 'utf8' } },
    { status: 409, body: problem(409, 'already_exists', 'secret prod/db is not deleted') },
  ]);
  const client = new SecretsBrokerClient({ socketPath: server.socketPath });
  t.teardown(() => client.close());

  // Act
  const restored = await client.restore('prod/db');
  const again = await client.restore('prod/db').catch((err: SecretsBrokerError) => err);

  // Assess
  t.same(restored, { id: 'prod/db', version: '4', encoding: 'utf8' });
  t.match(server.requests[0], { method: 'POST', url: '/secrets/prod/db:restore' });
  t.match(again, { code: 'already_exists', status: 409 });
});

t.test('watch yields each new version, asking again after a 304', async (t) => {
  // Prepare
  const server = await startScriptedServer(t, [
    { status: 200, headers: { etag: '"1"' }, body: at('1') },
    { status: 304, headers: { etag: '"1"' } },
    { status: 200, headers: { etag: '"2"', 'preference-applied': 'wait' }, body: at('2') },
    { status: 200, headers: { etag: '"3"', 'preference-applied': 'wait' }, body: at('3') },
  ]);
  const client = new SecretsBrokerClient({ socketPath: server.socketPath });
  t.teardown(() => client.close());

  // Act
  const seen: string[] = [];
  for await (const secret of client.watch('prod/db', { waitSeconds: 30 })) {
    seen.push(`${secret.version}:${secret.value}`);
    if (seen.length === 2) break;
  }

  // Assess
  t.same(seen, ['2:value 2', '3:value 3'], 'new versions only, not the one current at the start');
  const conditional = server.requests.slice(1).map((r) => [r.headers['if-none-match'], r.headers.prefer]);
  t.same(conditional, [
    ['"1"', 'wait=30'],
    ['"1"', 'wait=30'],
    ['"2"', 'wait=30'],
  ]);
});

t.test('watch from a known version starts waiting at once', async (t) => {
  // Prepare
  const server = await startScriptedServer(t, [{ status: 200, body: at('8') }]);
  const client = new SecretsBrokerClient({ socketPath: server.socketPath });
  t.teardown(() => client.close());

  // Act
  const next = await client.watch('prod/db', { since: '7' }).next();

  // Assess
  t.equal(next.value?.version, '8');
  t.equal(server.requests.length, 1);
  t.equal(server.requests[0]?.headers['if-none-match'], '"7"');
});

t.test('watch stops with watch_unsupported when the broker ignores If-None-Match', async (t) => {
  // Prepare
  const server = await startScriptedServer(t, [
    { status: 200, body: at('1') },
    { status: 200, body: at('1') },
  ]);
  const client = new SecretsBrokerClient({ socketPath: server.socketPath });
  t.teardown(() => client.close());

  // Act
  const error = await client
    .watch('prod/db')
    .next()
    .catch((err: SecretsBrokerError) => err);

  // Assess
  t.match(error, { name: 'SecretsBrokerError', code: 'watch_unsupported' });
  t.equal(server.requests.length, 2, 'no spinning');
});

t.test('watch ends quietly when its signal aborts a held request', async (t) => {
  // Prepare
  const server = await startScriptedServer(t, [
    { status: 200, body: at('1') },
    { status: 0, hold: true },
  ]);
  const client = new SecretsBrokerClient({ socketPath: server.socketPath });
  t.teardown(() => client.close());
  const stop = new AbortController();

  // Act
  const next = client.watch('prod/db', { signal: stop.signal }).next();
  while (server.requests.length < 2) await new Promise((resolve) => setImmediate(resolve));
  stop.abort();

  // Assess
  t.same(await next, { done: true, value: undefined });
});
