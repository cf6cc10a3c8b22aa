/**
 * Watches over HTTP: `If-None-Match` plus `Prefer: wait=N` holds a read until the version moves or
 * N seconds pass, one backend poller serves every watcher of an id, and the cap and malformed
 * preferences are refused.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { listenOnSocket } from '../../agent/http/listeners.js';
import { buildTestApp, TEST_TOKEN, type TestApp } from '../helpers/broker-app.js';
import { MemoryBackend } from '../helpers/memory-backend.js';

const json = (res: { body: string }) => JSON.parse(res.body);

async function withSecret(t: Test, options: Parameters<typeof buildTestApp>[1] = {}) {
  const backend = new MemoryBackend();
  const api = await buildTestApp(backend, options);
  t.teardown(() => api.close());
  const created = await api.call({ method: 'POST', url: '/secrets', body: { id: 'app/db', value: 'one' } });
  return { backend, api, etag: created.headers.etag as string };
}

function watch(api: TestApp, etag: string, prefer = 'wait=2') {
  return api.call({ method: 'GET', url: '/secrets/app/db', headers: { 'if-none-match': etag, prefer } });
}

/** A metric's value from the /metrics text (0 when absent). */
async function metric(api: TestApp, series: string): Promise<number> {
  const text = (await api.call({ method: 'GET', url: '/metrics' })).body;
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 10));
}

t.test('a watch answers 200 with the new value when the secret is written through the broker', async (t) => {
  // Prepare
  const { api, etag } = await withSecret(t);
  const held = watch(api, etag, 'wait=30');
  await until(async () => (await metric(api, 'secrets_broker_watches')) === 1);

  // Act
  const written = await api.call({ method: 'PUT', url: '/secrets/app/db', body: { value: 'two' } });
  const answer = await held;

  // Assess
  t.equal(answer.statusCode, 200);
  t.equal(answer.headers['preference-applied'], 'wait');
  t.equal(json(answer).value, 'two');
  t.equal(answer.headers.etag, written.headers.etag);
  t.equal(await metric(api, 'secrets_broker_watches'), 0, 'the watch is let go once answered');
});

t.test('a watch on an unchanged secret answers 304 with the ETag once the wait is over', async (t) => {
  // Prepare
  const { api, etag } = await withSecret(t);

  // Act
  const answer = await watch(api, etag, 'wait=1');

  // Assess
  t.equal(answer.statusCode, 304);
  t.equal(answer.headers.etag, etag);
  t.equal(answer.headers['preference-applied'], 'wait');
  t.equal(answer.body, '');
});

t.test('a watch naming an older version answers 200 at once', async (t) => {
  // Prepare
  const { api } = await withSecret(t);

  // Act
  const answer = await watch(api, '"some-older-version"', 'wait=300');

  // Assess
  t.equal(answer.statusCode, 200);
  t.equal(json(answer).value, 'one');
});

t.test('a write behind the broker is seen by the poller, one poll for many watchers', async (t) => {
  // Prepare
  const { backend, api, etag } = await withSecret(t, { watch: { pollIntervalMs: 200 } });
  const held = Array.from({ length: 10 }, () => watch(api, etag, 'wait=30'));
  await until(async () => (await metric(api, 'secrets_broker_watches')) === 10);
  const getsBefore = backend.calls.get;
  const pollsBefore = await metric(api, 'secrets_broker_watch_polls_total{outcome="ok"}');

  // Act
  const behind = await backend.put('app/db', { value: 'rotated', encoding: 'utf8', ifVersion: JSON.parse(etag) });
  const answers = await Promise.all(held);

  // Assess
  t.same(
    answers.map((a) => [a.statusCode, json(a).value, a.headers.etag]),
    Array(10).fill([200, 'rotated', `"${behind.version}"`]),
    'every watcher sees the write made behind the broker',
  );
  const polls = (await metric(api, 'secrets_broker_watch_polls_total{outcome="ok"}')) - pollsBefore;
  t.ok(polls >= 1, 'the poller read the backend');
  t.equal(backend.calls.get - getsBefore, polls, 'each poll is one backend read, shared by all ten watchers');
  t.ok(polls < 10, `fewer polls (${polls}) than watchers`);
});

t.test('a delete while watching answers 404', async (t) => {
  // Prepare
  const { api, etag } = await withSecret(t);
  const held = watch(api, etag, 'wait=30');
  await until(async () => (await metric(api, 'secrets_broker_watches')) === 1);

  // Act
  await api.call({ method: 'DELETE', url: '/secrets/app/db' });
  const answer = await held;

  // Assess
  t.equal(answer.statusCode, 404);
  t.equal(json(answer).code, 'not_found');
});

t.test('beyond the cap a watch is 503 backend_unavailable with Retry-After', async (t) => {
  // Prepare
  const { api, etag } = await withSecret(t, { watch: { maxWatches: 1 } });
  const first = watch(api, etag, 'wait=1');
  await until(async () => (await metric(api, 'secrets_broker_watches')) === 1);

  // Act
  const refused = await watch(api, etag, 'wait=1');
  const plain = await api.call({ method: 'GET', url: '/secrets/app/db', headers: { 'if-none-match': etag } });

  // Assess
  t.equal(refused.statusCode, 503);
  t.equal(json(refused).code, 'backend_unavailable');
  t.match(refused.headers['retry-after'], /^\d+$/);
  t.equal(plain.statusCode, 304, 'a conditional read without wait is not a watch and is not capped');
  t.equal((await first).statusCode, 304, 'the held watch still answers');
});

t.test('a malformed wait is 400 invalid_request; other preferences are ignored', async (t) => {
  // Prepare
  const { api, etag } = await withSecret(t);

  // Act
  const malformed = await Promise.all(
    ['wait=0', 'wait=abc', 'wait=301', 'wait=', 'wait=1.5'].map((p) => watch(api, etag, p)),
  );
  const ignored = await watch(api, etag, 'respond-async, return=minimal');
  const among = await watch(api, etag, 'return=minimal; foo=bar, WAIT=1');

  // Assess
  t.same(
    malformed.map((r) => [r.statusCode, json(r).code]),
    Array(5).fill([400, 'invalid_request']),
  );
  t.equal(ignored.statusCode, 304, 'a Prefer without wait is a plain conditional read');
  t.notOk(ignored.headers['preference-applied'], 'and says no preference was applied');
  t.equal(among.statusCode, 304);
  t.equal(among.headers['preference-applied'], 'wait', 'wait is found among other preferences');
});

t.test('a caller that disconnects releases its watch', async (t) => {
  // Prepare
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-watch-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const { api, etag } = await withSecret(t);
  const socketPath = path.join(dir, 'broker.sock');
  await listenOnSocket(api.app, socketPath, '0600');
  const headers = { authorization: `Bearer ${TEST_TOKEN}`, 'if-none-match': etag, prefer: 'wait=300' };
  const req = http.request({ socketPath, path: '/secrets/app/db', headers, agent: false });
  req.on('error', () => undefined);
  req.end();
  await until(async () => (await metric(api, 'secrets_broker_watches')) === 1);

  // Act
  req.destroy();

  // Assess
  await until(async () => (await metric(api, 'secrets_broker_watches')) === 0);
  t.pass('the watch count went back to 0 without waiting 300 s');
});
