/**
 * Watches and cross-broker coherence in real broker processes: SIGTERM answers every pending watch
 * 304 before the drain ends; two brokers sharing a lock directory and a file store see each
 * other's writes in their caches and their watches.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { type BrokerProcess, freePort, startBrokerProcess, waitForOutput } from '../helpers/broker-process.js';
import { request } from '../helpers/http-client.js';

t.test('SIGTERM answers every pending watch with 304, then the broker exits 0', async (t) => {
  // Prepare
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-watch-proc-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const port = await freePort();
  // A grace period far longer than the test: only the release of the watches can end the drain in time.
  const broker = startBrokerProcess(
    { SECRETS_BROKER_LISTEN_PORT: String(port), SECRETS_BROKER_SHUTDOWN_GRACE_MS: '120000' },
    dir,
  );
  t.teardown(() => broker.child.kill('SIGKILL'));
  await waitForOutput(broker, (text) => text.includes('serving the file backend'));
  const token = (await readFile(path.join(dir, '.secrets-broker', 'token'), 'utf8')).trim();
  const target = { host: '127.0.0.1', port };
  const created = await request(target, 'POST', '/secrets', { token, body: { id: 'app/db', value: 'one' } });
  const etag = created.headers.etag as string;
  const headers = { 'if-none-match': etag, prefer: 'wait=300' };
  const held = [1, 2, 3].map(() => request(target, 'GET', '/secrets/app/db', { token, headers }));
  while (!(await request(target, 'GET', '/metrics', { token })).body.includes('secrets_broker_watches 3')) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }

  // Act
  broker.child.kill('SIGTERM');
  const answers = await Promise.all(held);
  const code = await broker.exited;

  // Assess
  t.same(
    answers.map((a) => [a.status, a.headers.etag]),
    Array(3).fill([304, etag]),
    'each watch answered unchanged',
  );
  t.equal(code, 0, 'the broker exited cleanly');
});

/** A broker process on the file store and lock directory under `shared`, with its own socket and port. */
async function sharingBroker(t: Test, shared: string, name: string) {
  const port = await freePort();
  const env = {
    SECRETS_BROKER_LISTEN_PORT: String(port),
    SECRETS_BROKER_SOCKET: path.join(shared, name, 'broker.sock'),
    SECRETS_BROKER_LOCK_DIR: path.join(shared, 'locks'),
    SECRETS_BROKER_FILE_DIR: path.join(shared, 'store'),
  };
  const broker: BrokerProcess = startBrokerProcess(env, shared);
  t.teardown(async () => {
    broker.child.kill('SIGTERM');
    await broker.exited;
  });
  await waitForOutput(broker, (text) => text.includes('serving the file backend'));
  const token = (await readFile(path.join(shared, name, 'token'), 'utf8')).trim();
  const target = { host: '127.0.0.1', port };
  return {
    call: (method: string, url: string, options: { body?: unknown; headers?: Record<string, string> } = {}) =>
      request(target, method, url, { token, ...options }),
  };
}

t.test("two brokers sharing a lock directory and a file store see each other's writes", async (t) => {
  // Prepare
  const shared = await mkdtemp(path.join(os.tmpdir(), 'sb-two-'));
  t.teardown(() => rm(shared, { recursive: true, force: true }));
  // One after the other: the first generates the store key the second then reads.
  const one = await sharingBroker(t, shared, 'one');
  const two = await sharingBroker(t, shared, 'two');
  const created = await one.call('POST', '/secrets', { body: { id: 'app/db', value: 'first' } });
  const cached = await two.call('GET', '/secrets/app/db');
  t.equal(cached.json().value, 'first', 'the second broker reads and caches the first version');

  // Act: a write through the first broker, then reads through the second until it shows it (at most ~3 s)
  const written = await one.call('PUT', '/secrets/app/db', { body: { value: 'second' } });
  let seen = cached;
  for (let i = 0; i < 60 && seen.headers.etag !== written.headers.etag; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    seen = await two.call('GET', '/secrets/app/db');
  }

  // Assess
  t.equal(seen.headers.etag, written.headers.etag, "the second broker's cache gave way to the new version");
  t.equal(seen.json().value, 'second');
  t.not(written.headers.etag, created.headers.etag);

  // Act: a watch held by the second broker, a write through the first
  const headers = { 'if-none-match': written.headers.etag as string, prefer: 'wait=30' };
  let settled = false;
  const held = two.call('GET', '/secrets/app/db', { headers }).finally(() => {
    settled = true;
  });
  while (!settled && !(await two.call('GET', '/metrics')).body.includes('secrets_broker_watches 1')) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const third = await one.call('PUT', '/secrets/app/db', { body: { value: 'third' } });
  const woken = await held;

  // Assess
  t.equal(woken.status, 200, "the first broker's write wakes the second broker's watch");
  t.equal(woken.json().value, 'third');
  t.equal(woken.headers.etag, third.headers.etag);
});
