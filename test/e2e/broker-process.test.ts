/**
 * The real process, end to end: start `secrets-broker serve` on a temporary socket, run a CRUD
 * session over the socket and over TCP, race 20 conditional PUTs, stop it with SIGTERM, and then
 * scan everything it wrote (its output at debug level, metrics, error bodies, lock directory,
 * store) for the plaintext values used.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { freePort, MAIN, startBrokerProcess, waitForOutput } from '../helpers/broker-process.js';
import { request, type Target } from '../helpers/http-client.js';

t.before(() => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build (npm test does it first)`);
});

async function filesUnder(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

t.test('a broker process serves, drains on SIGTERM and leaks no value', async (t) => {
  // Prepare
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-e2e-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const socketPath = path.join(dir, 'run', 'broker.sock');
  const port = await freePort();
  const env = {
    SECRETS_BROKER_SOCKET: socketPath,
    SECRETS_BROKER_LISTEN_PORT: String(port),
    SECRETS_BROKER_FILE_DIR: path.join(dir, 'store'),
    SECRETS_BROKER_LOG_LEVEL: 'debug',
    SECRETS_BROKER_SERVICE_HOST: '10.0.0.1',
    SECRETS_BROKER_PORT: 'tcp://10.0.0.1:80',
  };
  const broker = startBrokerProcess(env, dir);
  t.teardown(() => broker.child.kill('SIGKILL'));
  await waitForOutput(broker, (text) => text.includes('serving the file backend'));
  const token = (await readFile(path.join(dir, 'run', 'token'), 'utf8')).trim();
  const sock: Target = { socketPath };
  const tcp: Target = { host: '127.0.0.1', port };
  const values = Array.from({ length: 25 }, (_, i) => `plaintext-${i}-${randomBytes(12).toString('hex')}`);
  const bodies: string[] = [];
  const call = async (target: Target, method: string, url: string, options: Parameters<typeof request>[3] = {}) => {
    const res = await request(target, method, url, { token, ...options });
    bodies.push(res.body);
    return res;
  };

  // Assess: files and modes
  t.equal((await stat(socketPath)).mode & 0o777, 0o660, 'socket mode 0660');
  t.equal((await stat(path.join(dir, 'run', 'token'))).mode & 0o777, 0o640, 'token file mode 0640');
  t.notMatch(broker.output(), /unknown environment variable/, 'service-link variables are ignored silently');

  // Act + Assess: CRUD over the socket
  const created = await call(sock, 'POST', '/secrets', { body: { id: 'prod/db/password', value: values[0] } });
  t.equal(created.status, 201);
  const read = await call(sock, 'GET', '/secrets/prod%2Fdb%2Fpassword');
  t.equal(read.json().value, values[0], 'read over the socket, %2F id');
  const put = await call(sock, 'PUT', '/secrets/prod/db/password', {
    body: { value: values[1] },
    headers: { 'if-match': created.headers.etag as string },
  });
  t.equal(put.status, 200);
  const stale = await call(sock, 'PUT', '/secrets/prod/db/password', {
    body: { value: values[2] },
    headers: { 'if-match': created.headers.etag as string },
  });
  t.equal(stale.status, 412, 'stale If-Match refused');

  // Act + Assess: the same API over TCP
  const overTcp = await call(tcp, 'GET', '/secrets/prod/db/password');
  t.equal(overTcp.json().value, values[1], 'TCP serves the same secrets');
  const listed = await call(tcp, 'GET', '/secrets?filter=%5Eprod%2F');
  t.same(
    listed.json().items.map((i: { id: string }) => i.id),
    ['prod/db/password'],
  );
  t.equal((await request(tcp, 'GET', '/secrets')).status, 401, 'no token, no secrets');

  // Act + Assess: 20 concurrent conditional PUTs of one version
  const race = await call(sock, 'POST', '/secrets', { body: { id: 'race', value: values[3] } });
  const results = await Promise.all(
    values.slice(4, 24).map((value, i) =>
      call(i % 2 ? tcp : sock, 'PUT', '/secrets/race', {
        body: { value },
        headers: { 'if-match': race.headers.etag as string },
      }),
    ),
  );
  t.equal(results.filter((r) => r.status === 200).length, 1, 'exactly one conditional PUT wins');
  t.ok(
    results.every((r) => [200, 412, 423].includes(r.status)),
    'the rest are 412 or 423',
  );

  const deleted = await call(sock, 'DELETE', '/secrets/race');
  t.equal(deleted.status, 204);
  const metrics = await call(sock, 'GET', '/metrics');
  t.match(metrics.body, /secrets_broker_http_requests_total/);

  // Act: a second broker on the same socket must refuse to start
  const second = startBrokerProcess({ ...env, SECRETS_BROKER_LISTEN_PORT: '0' }, dir);
  t.equal(await second.exited, 1, 'a second broker on a live socket exits 1');
  t.match(second.output(), /already serving/);

  // Act: SIGTERM
  broker.child.kill('SIGTERM');
  t.equal(await broker.exited, 0, 'SIGTERM exits 0');
  t.notOk(existsSync(socketPath), 'the socket file is removed');
  t.match(broker.output(), /shutdown complete/);

  // Assess: no plaintext anywhere the process wrote
  const written = [broker.output(), second.output(), ...bodies.filter((b) => !b.includes('"value"'))];
  for (const file of [...(await filesUnder(dir))]) written.push((await readFile(file)).toString('latin1'));
  const leaks = values.filter((value) => written.some((text) => text.includes(value)));
  t.same(leaks, [], 'no value in logs, metrics, error bodies, lock files or the store');
  t.ok((await filesUnder(path.join(dir, 'store'))).length > 0, 'the store was written');
});

t.test('a restarted broker reuses its token and store and clears a stale socket', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-e2e-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const socketPath = path.join(dir, 'broker.sock');
  const env = { SECRETS_BROKER_SOCKET: socketPath, SECRETS_BROKER_LISTEN_PORT: '0' };
  const first = startBrokerProcess(env, dir);
  await waitForOutput(first, (text) => text.includes('serving'));
  const token = (await readFile(path.join(dir, 'token'), 'utf8')).trim();
  await request({ socketPath }, 'POST', '/secrets', { token, body: { id: 'keep', value: 'persisted' } });
  first.child.kill('SIGKILL');
  await first.exited;
  t.ok(existsSync(socketPath), 'SIGKILL leaves a stale socket behind');

  const second = startBrokerProcess(env, dir);
  t.teardown(() => second.child.kill('SIGKILL'));
  await waitForOutput(second, (text) => text.includes('serving'));
  t.equal((await readFile(path.join(dir, 'token'), 'utf8')).trim(), token, 'the token file is reused');
  const read = await request({ socketPath }, 'GET', '/secrets/keep', { token });
  t.equal(read.json().value, 'persisted', 'the store survives the restart');
  second.child.kill('SIGTERM');
  t.equal(await second.exited, 0);
});

t.test('invalid configuration exits 2 naming the key and the allowed values', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-e2e-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const bad = startBrokerProcess({ SECRETS_BROKER_LISTEN_HOST: '0.0.0.0' }, dir);
  t.equal(await bad.exited, 2);
  t.match(bad.output(), /listen\.host \(SECRETS_BROKER_LISTEN_HOST\).*127\.0\.0\.1 or ::1/);
  const range = startBrokerProcess({ SECRETS_BROKER_CACHE_TTL_MS: '-5' }, dir);
  t.equal(await range.exited, 2);
  t.match(range.output(), /SECRETS_BROKER_CACHE_TTL_MS/);
});
