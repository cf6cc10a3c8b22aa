import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { closeGracefully, listenOnSocket, removeSocketFile } from '../../agent/http/listeners.js';
import { buildTestApp, TEST_TOKEN } from '../helpers/broker-app.js';
import { request } from '../helpers/http-client.js';
import { MemoryBackend } from '../helpers/memory-backend.js';

t.test('closing drains an in-flight request, then refuses new ones and removes the socket', async (t) => {
  // Prepare
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-close-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const socketPath = path.join(dir, 'broker.sock');
  const backend = new MemoryBackend();
  const api = await buildTestApp(backend, { cacheTtlMs: 0 });
  await api.call({ method: 'POST', url: '/secrets', body: { id: 'slow', value: 'v' } });
  await listenOnSocket(api.app, socketPath, '0600');
  t.equal((await stat(socketPath)).mode & 0o777, 0o600, 'the configured socket mode is applied');
  backend.delayMs = 400;

  // Act
  const inFlight = request({ socketPath }, 'GET', '/secrets/slow', { token: TEST_TOKEN });
  await new Promise((r) => setTimeout(r, 100));
  const closed = closeGracefully(api.app, 5000);
  const response = await inFlight;
  await closed;

  // Assess
  t.equal(response.status, 200, 'the in-flight request finished');
  t.equal(response.json().value, 'v');
  await t.rejects(request({ socketPath }, 'GET', '/healthz'), 'no new connection after close');
  await removeSocketFile(socketPath);
  t.notOk(existsSync(socketPath), 'the socket file is gone');
  await api.broker.close();
});

t.test('a request still running at the end of the grace period is cut off', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-close-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const socketPath = path.join(dir, 'broker.sock');
  const backend = new MemoryBackend();
  const api = await buildTestApp(backend, { cacheTtlMs: 0, retry: { attemptTimeoutMs: 30_000, deadlineMs: 60_000 } });
  await api.call({ method: 'POST', url: '/secrets', body: { id: 'stuck', value: 'v' } });
  await listenOnSocket(api.app, socketPath, '0660');
  backend.delayMs = 3000;
  const inFlight = request({ socketPath }, 'GET', '/secrets/stuck', { token: TEST_TOKEN }).then(
    () => 'answered',
    () => 'cut off',
  );
  await new Promise((r) => setTimeout(r, 100));
  await closeGracefully(api.app, 200);
  t.equal(await inFlight, 'cut off', 'shutdown did not wait for the stuck request');
  await api.broker.close();
});
