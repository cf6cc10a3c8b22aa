import { createServer } from 'node:net';
import t from 'tap';
import { isTransient } from '../../agent/backends/errors.js';
import { buildTestApp } from '../helpers/broker-app.js';
import { errorOf } from './outcome.js';
import { vaultFixture } from './vault-fixture.js';

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

t.test(
  'a sealed Vault is backend_unavailable now (not retried) with a retry hint, and the backend recovers without restart',
  async (t) => {
    // Prepare
    const { backend, double } = await vaultFixture(t);
    await backend.create({ id: 'a', value: 'v', encoding: 'utf8' });

    // Act
    double.sealed = true;
    const sealed = await errorOf(backend.get('a', undefined));
    double.sealed = false;
    const read = await backend.get('a', undefined);

    // Assess
    t.equal(sealed.code, 'backend_unavailable');
    t.notOk(isTransient(sealed), 'a seal lasts: retrying within the request cannot cure it');
    t.ok((sealed.retryAfterMs ?? 0) >= 1000, 'a retry hint of seconds');
    t.equal(read.value, 'v');
  },
);

t.test('through the broker, a sealed Vault answers 503 with Retry-After after one attempt', async (t) => {
  // Prepare: a secret the broker has never read, so nothing is cached
  const { backend, double } = await vaultFixture(t);
  double.kv().writeData('never-read', { data: { value: 'v', encoding: 'utf8' } });
  await backend.ready();
  const api = await buildTestApp(backend, { cacheTtlMs: 0, retry: { maxAttempts: 4 } });
  t.teardown(() => api.close());
  double.sealed = true;

  // Act
  const res = await api.call({ method: 'GET', url: '/secrets/never-read' });

  // Assess
  t.equal(res.statusCode, 503);
  t.equal(res.json().code, 'backend_unavailable');
  t.equal(res.headers['retry-after'], '3');
  t.equal(double.count('GET', 'secret/data/never-read'), 1, 'asked once, not four times 3 s apart');
});

t.test('a login against a sealed Vault fails as unavailable, and works once Vault is unsealed', async (t) => {
  // Prepare
  const { backend, double } = await vaultFixture(t);
  double.sealed = true;

  // Act
  const sealed = await errorOf(backend.get('a', undefined));
  double.sealed = false;
  double.advance(31_000); // past the login backoff
  const afterUnseal = await errorOf(backend.get('a', undefined));

  // Assess
  t.equal(sealed.code, 'backend_unavailable');
  t.equal(afterUnseal.code, 'not_found', 'logged in and reached the KV mount');
});

t.test('a rate limit quota (429) is throttled with the Retry-After Vault sent', async (t) => {
  // Prepare
  const { backend, double } = await vaultFixture(t);
  await backend.create({ id: 'a', value: 'v', encoding: 'utf8' });

  // Act
  double.quota = { retryAfterSeconds: 7 };
  const throttled = await errorOf(backend.get('a', undefined));
  double.quota = undefined;
  const read = await backend.get('a', undefined);

  // Assess
  t.equal(throttled.code, 'throttled');
  t.equal(throttled.retryAfterMs, 7000);
  t.ok(isTransient(throttled));
  t.equal(read.value, 'v');
});

t.test(
  'a writer outside the broker that wins the race makes the put fail with precondition_failed, losing nothing',
  async (t) => {
    // Prepare
    const { backend, double } = await vaultFixture(t);
    await backend.create({ id: 'shared', value: 'v1', encoding: 'utf8' });
    // The outside write lands after the backend read version 1 and just before its data write arrives.
    double.beforeRequest = (request) => {
      if (request.method !== 'POST' || request.path !== 'secret/data/shared') return;
      double.beforeRequest = undefined;
      double.kv().writeData('shared', { data: { value: 'outside', encoding: 'utf8' } });
    };

    // Act
    const refused = await errorOf(backend.put('shared', { value: 'broker', encoding: 'utf8', ifVersion: '1' }));

    // Assess
    t.equal(refused.code, 'precondition_failed');
    const read = await backend.get('shared', undefined);
    t.equal(read.value, 'outside', "the outside writer's update survived");
    t.equal(read.version, '2');
  },
);

t.test('a writer outside the broker that creates the id first makes create answer already_exists', async (t) => {
  // Prepare
  const { backend, double } = await vaultFixture(t);
  double.beforeRequest = (request) => {
    if (request.method !== 'POST' || request.path !== 'secret/data/race') return;
    double.beforeRequest = undefined;
    double.kv().writeData('race', { data: { value: 'outside', encoding: 'utf8' } });
  };

  // Act
  const refused = await errorOf(backend.create({ id: 'race', value: 'broker', encoding: 'utf8' }));

  // Assess
  t.equal(refused.code, 'already_exists');
  t.equal((await backend.get('race', undefined)).value, 'outside');
});

t.test('a Vault slower than the request timeout gives backend_timeout', async (t) => {
  // Prepare
  const { backend, double, makeBackend } = await vaultFixture(t);
  await backend.create({ id: 'a', value: 'v', encoding: 'utf8' });
  const impatient = makeBackend({ requestTimeoutMs: 50 });
  await impatient.get('a', undefined);

  // Act
  double.latencyMs = 1000;
  const slow = await errorOf(impatient.get('a', undefined));
  double.latencyMs = 0;

  // Assess
  t.equal(slow.code, 'backend_timeout');
  t.ok(isTransient(slow));
});

t.test("the caller's abort signal ends the request in flight as backend_timeout", async (t) => {
  // Prepare
  const { backend, double } = await vaultFixture(t);
  await backend.create({ id: 'a', value: 'v', encoding: 'utf8' });
  double.latencyMs = 10_000;
  const controller = new AbortController();
  double.beforeRequest = () => controller.abort();

  // Act
  const aborted = await errorOf(backend.get('a', undefined, { signal: controller.signal }));
  double.latencyMs = 0;

  // Assess
  t.equal(aborted.code, 'backend_timeout');
});

t.test('an already aborted signal sends nothing', async (t) => {
  // Prepare
  const { backend, double } = await vaultFixture(t);
  await backend.create({ id: 'a', value: 'v', encoding: 'utf8' });
  const before = double.requests.length;

  // Act
  const aborted = await errorOf(backend.get('a', undefined, { signal: AbortSignal.abort() }));

  // Assess
  t.equal(aborted.code, 'backend_timeout');
  t.equal(double.requests.length, before);
});

t.test('nothing listening at the address is backend_unavailable', async (t) => {
  // Prepare
  const { makeBackend } = await vaultFixture(t);
  const backend = makeBackend({ addr: `http://127.0.0.1:${await closedPort()}` });

  // Act
  const refused = await errorOf(backend.get('a', undefined));
  const notReady = await errorOf(backend.ready());

  // Assess
  t.equal(refused.code, 'backend_unavailable');
  t.equal(notReady.code, 'backend_unavailable');
});

t.test('a missing service-account token file is a backend_error naming the file', async (t) => {
  // Prepare
  const { makeBackend, dir } = await vaultFixture(t);
  const backend = makeBackend({ jwtFile: `${dir}/missing-token` });

  // Act
  const failed = await errorOf(backend.get('a', undefined));

  // Assess
  t.equal(failed.code, 'backend_error');
  t.match(failed.message, /missing-token/);
});
