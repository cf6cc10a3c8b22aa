/**
 * One API app serves the Unix socket and loopback TCP: both answer, metrics tell them apart,
 * graceful close ends both, and connections are bounded (request timeout, refused unread bodies).
 */
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { buildApiApp } from '../../agent/http/app.js';
import { closeGracefully, listenAlsoOnTcp, listenOnSocket } from '../../agent/http/listeners.js';
import { createLogger } from '../../agent/observability/logger.js';
import { buildTestApp, TEST_TOKEN } from '../helpers/broker-app.js';
import { request } from '../helpers/http-client.js';
import { MemoryBackend } from '../helpers/memory-backend.js';

interface Served {
  backend: MemoryBackend;
  socketPath: string;
  tcp: { host: string; port: number };
  close(): Promise<void>;
  metricsText(): Promise<string>;
}

/** The real API app over a memory backend, listening on a socket and on loopback TCP. */
async function serve(t: Test, requestTimeoutMs?: number): Promise<Served> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-shared-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const backend = new MemoryBackend();
  const test = await buildTestApp(backend, { cacheTtlMs: 0 });
  t.teardown(() => test.close());
  const app = await buildApiApp({
    broker: test.broker,
    metrics: test.metrics,
    logger: createLogger('silent'),
    listener: 'socket',
    token: TEST_TOKEN,
    ...(requestTimeoutMs ? { requestTimeoutMs } : {}),
  });
  const socketPath = path.join(dir, 'broker.sock');
  await listenOnSocket(app, socketPath, '0600');
  const address = await listenAlsoOnTcp(app, '127.0.0.1', 0, 'tcp');
  const port = Number(address.split(':').at(-1));
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await closeGracefully(app, 1000);
  };
  t.teardown(close);
  return {
    backend,
    socketPath,
    tcp: { host: '127.0.0.1', port },
    close,
    metricsText: () => test.metrics.registry.metrics(),
  };
}

/** Sends raw bytes on a new TCP connection; resolves with everything received once the server closes it. */
function rawExchange(target: { host: string; port: number }, bytes: string): Promise<string> {
  const socket = net.connect(target, () => socket.write(bytes));
  let text = '';
  socket.on('data', (chunk) => {
    text += String(chunk);
  });
  socket.on('error', () => undefined);
  return once(socket, 'close').then(() => text);
}

t.test('the socket and loopback TCP are served by one app, each labelled in metrics', async (t) => {
  // Prepare
  const served = await serve(t);

  // Act
  const created = await request({ socketPath: served.socketPath }, 'POST', '/secrets', {
    token: TEST_TOKEN,
    body: { id: 'app/db', value: 'v1' },
  });
  const overTcp = await request(served.tcp, 'GET', '/secrets/app/db', { token: TEST_TOKEN });
  const text = await served.metricsText();

  // Assess
  t.equal(created.status, 201);
  t.equal(overTcp.status, 200, 'TCP sees what the socket wrote');
  t.equal(overTcp.json().value, 'v1');
  t.match(
    text,
    /secrets_broker_http_requests_total\{listener="socket",method="POST",route="\/secrets",status="201"\} 1/,
  );
  t.match(
    text,
    /secrets_broker_http_requests_total\{listener="tcp",method="GET",route="\/secrets\/\*",status="200"\} 1/,
  );
});

t.test('closing the app gracefully stops both listeners', async (t) => {
  // Prepare
  const served = await serve(t);
  t.equal((await request(served.tcp, 'GET', '/healthz')).status, 200);

  // Act
  await served.close();

  // Assess
  await t.rejects(request(served.tcp, 'GET', '/healthz'), 'TCP refuses new connections');
  await t.rejects(request({ socketPath: served.socketPath }, 'GET', '/healthz'), 'the socket too');
});

t.test('closing drains a request in flight on TCP, then refuses new ones', async (t) => {
  // Prepare
  const served = await serve(t);
  await request(served.tcp, 'POST', '/secrets', { token: TEST_TOKEN, body: { id: 'slow', value: 'v' } });
  served.backend.delayMs = 400;
  const inFlight = request(served.tcp, 'GET', '/secrets/slow', { token: TEST_TOKEN });
  await new Promise((resolve) => setTimeout(resolve, 100));

  // Act
  const closed = served.close();
  const response = await inFlight;
  await closed;

  // Assess
  t.equal(response.status, 200, 'the in-flight request finished');
  t.equal(response.json().value, 'v');
  await t.rejects(request(served.tcp, 'GET', '/healthz'), 'no new connection after close');
});

t.test('a refusal sent before the body was read closes the connection', async (t) => {
  // Prepare: a POST whose 100-byte body never comes, without a token
  const served = await serve(t, 5000);
  const head = 'POST /secrets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n';

  // Act: resolves only once the server closes the connection
  const answer = await rawExchange(served.tcp, head);

  // Assess: one answer, the 401, which closes the connection itself (no later 408 cut)
  const answerHead = answer.slice(0, answer.indexOf('\r\n\r\n'));
  t.match(answerHead, /^HTTP\/1\.1 401/);
  t.match(answerHead, /\r\nconnection: close(\r\n|$)/i, 'the 401 says Connection: close');
  t.match(answer, /"code":"unauthorized"/);
  t.notMatch(answer, /HTTP\/1\.1 408/, 'the connection was not left open until the request timeout');
});

t.test('a request whose body does not arrive within the request timeout is cut with 408', async (t) => {
  // Prepare: the token is right, the body never completes
  const served = await serve(t, 300);
  const head =
    'PUT /secrets/app/db HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
    `Authorization: Bearer ${TEST_TOKEN}\r\nContent-Length: 100\r\n\r\n{"value":`;

  // Act: resolves only once the server closes the connection
  const answer = await rawExchange(served.tcp, head);

  // Assess
  t.match(answer, /^HTTP\/1\.1 408/);
  t.match(answer, /application\/problem\+json/);
  t.match(answer, /"code":"invalid_request"/);
});

t.test('headers that never finish are cut by the same timeout, on the socket too', async (t) => {
  // Prepare
  const served = await serve(t, 300);
  const socket = net.connect({ path: served.socketPath }, () => socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'));
  let text = '';
  socket.on('data', (chunk) => {
    text += String(chunk);
  });

  // Act
  await once(socket, 'close');

  // Assess
  t.match(text, /^HTTP\/1\.1 408/);
});
