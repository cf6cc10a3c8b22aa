/**
 * The cached-read lane (agent/http/cached-read-lane.ts): a plain GET of a freshly cached secret is
 * answered ahead of the app with the answer the route would give; everything else reaches the app
 * and gets the app's answer. Driven over a real socket and loopback TCP.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import type http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import inject from 'light-my-request';
import t, { type Test } from 'tap';
import { buildApiApp } from '../../agent/http/app.js';
import { closeGracefully, listenAlsoOnTcp, listenOnSocket } from '../../agent/http/listeners.js';
import { createLogger } from '../../agent/observability/logger.js';
import { buildTestApp, TEST_TOKEN, type TestAppOptions } from '../helpers/broker-app.js';
import { request } from '../helpers/http-client.js';
import { MemoryBackend } from '../helpers/memory-backend.js';

const VALUE = 'lane-value-9f3c1e';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The real API app over a memory backend on a socket and TCP, counting the broker's full reads. */
async function serve(t: Test, options: TestAppOptions = {}) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-lane-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const backend = new MemoryBackend();
  const test = await buildTestApp(backend, options);
  t.teardown(() => test.close());
  const logLines: string[] = [];
  const logger = createLogger('debug', {
    write: (line: string) => {
      logLines.push(line);
      return true;
    },
  } as unknown as NodeJS.WritableStream);
  const app = await buildApiApp({
    broker: test.broker,
    metrics: test.metrics,
    logger,
    listener: 'socket',
    token: TEST_TOKEN,
  });
  const socketPath = path.join(dir, 'b.sock');
  await listenOnSocket(app, socketPath, '0600');
  const address = await listenAlsoOnTcp(app, '127.0.0.1', 0, 'tcp');
  t.teardown(() => closeGracefully(app, 1000));
  const fullReads = { count: 0 };
  const read = test.broker.read.bind(test.broker);
  test.broker.read = (...args) => {
    fullReads.count++;
    return read(...args);
  };
  return {
    app,
    backend,
    broker: test.broker,
    fullReads,
    logText: () => logLines.join(''),
    metricsText: () => test.metrics.registry.metrics(),
    socket: { socketPath },
    tcp: { host: '127.0.0.1', port: Number(address.split(':').at(-1)) },
  };
}

t.test('a cached read is answered ahead of the app, with the status, headers and body the route gives', async (t) => {
  // Prepare
  const served = await serve(t);
  const created = await request(served.socket, 'POST', '/secrets', {
    token: TEST_TOKEN,
    body: { id: 'app/db', value: VALUE, tags: { team: 'a' } },
  });
  t.equal(created.status, 201);
  // The route's own answer, through the app alone.
  const routed = await served.app.inject({
    method: 'GET',
    url: '/secrets/app/db',
    headers: { authorization: `Bearer ${TEST_TOKEN}` },
  });
  served.fullReads.count = 0;

  // Act
  const viaSocket = await request(served.socket, 'GET', '/secrets/app/db', { token: TEST_TOKEN });
  const viaTcp = await request(served.tcp, 'GET', '/secrets/app/db', { token: TEST_TOKEN });

  // Assess
  t.equal(served.fullReads.count, 0, 'neither answer went through the route');
  for (const answer of [viaSocket, viaTcp]) {
    t.equal(answer.status, 200);
    t.equal(answer.body, routed.body, 'the same body, byte for byte');
    for (const name of ['etag', 'x-cache', 'age', 'cache-control', 'content-type', 'content-length']) {
      t.equal(answer.headers[name], routed.headers[name], `the same ${name}`);
    }
    t.match(answer.headers['x-request-id'], UUID, 'a request id of its own');
    t.equal(answer.json().value, VALUE);
    t.equal(answer.json().locked, false);
  }
  t.not(viaSocket.headers['x-request-id'], viaTcp.headers['x-request-id']);
  const metrics = await served.metricsText();
  // Two on the socket's label: the lane's answer and the route's, injected into the app.
  t.match(metrics, /requests_total\{listener="socket",method="GET",route="\/secrets\/\*",status="200"\} 2\b/);
  t.match(metrics, /requests_total\{listener="tcp",method="GET",route="\/secrets\/\*",status="200"\} 1\b/);
  t.match(metrics, /cache_events_total\{event="hit"\} [2-9]/, 'counted as cache hits');
  const logged = served.logText();
  t.match(logged, new RegExp(`"requestId":"${viaTcp.headers['x-request-id']}".*"route":"/secrets/\\*".*"status":200`));
  t.notOk(logged.includes(VALUE), 'no value in the log');
});

t.test('reads the lane cannot answer get the route’s answer', async (t) => {
  // Prepare
  const served = await serve(t, { policy: { read: ['app/*'] } });
  const token = TEST_TOKEN;
  const created = await request(served.socket, 'POST', '/secrets', { token, body: { id: 'app/db', value: VALUE } });
  const etag = created.headers.etag as string;
  await request(served.socket, 'POST', '/secrets', { token, body: { id: 'other/x', value: VALUE } });
  await served.backend.create({ id: 'app/behind', value: 'written behind the broker', encoding: 'utf8' });
  const cases: [string, string, Record<string, string>, number, boolean][] = [
    // name, path, headers, status, whether the broker's full read ran
    ['a cache miss', '/secrets/app/behind', {}, 200, true],
    ['a conditional read', '/secrets/app/db', { 'if-none-match': etag }, 304, false],
    ['a watch', '/secrets/app/db', { 'if-none-match': '"0"', prefer: 'wait=1' }, 200, true],
    ['a malformed Prefer', '/secrets/app/db', { prefer: 'wait=0' }, 400, false],
    ['Cache-Control: no-cache', '/secrets/app/db', { 'cache-control': 'no-cache' }, 200, true],
    ['a query', '/secrets/app/db?version=1', {}, 200, true],
    ['a percent-encoded id', '/secrets/app%2Fdb', {}, 200, true],
    ['an invalid id', '/secrets/app//db', {}, 400, true],
    ['an id the policy refuses', '/secrets/other/x', {}, 403, true],
    ['a proxied request', '/secrets/app/db', { 'x-forwarded-for': '10.0.0.1' }, 403, false],
  ];

  for (const [name, url, headers, status, fullRead] of cases) {
    served.fullReads.count = 0;

    // Act
    const answer = await request(served.socket, 'GET', url, { token, headers });

    // Assess
    t.equal(answer.status, status, `${name}: ${status}`);
    t.equal(served.fullReads.count > 0, fullRead, `${name}: ${fullRead ? 'the route read it' : 'no read'}`);
    if (status >= 400) t.match(answer.headers['content-type'], /^application\/problem\+json/, `${name}: a problem`);
  }
  for (const authorization of ['', 'Bearer wrong-token-0123456789', `Basic ${TEST_TOKEN}`]) {
    const answer = await request(served.socket, 'GET', '/secrets/app/db', { headers: { authorization } });
    t.equal(answer.status, 401, `Authorization "${authorization.split(' ')[0]}": 401`);
    t.notOk(answer.body.includes(VALUE), 'and no value');
  }
  const otherSpelling = await request(served.socket, 'GET', '/secrets/app/db', {
    headers: { authorization: `bearer   ${TEST_TOKEN}` },
  });
  t.equal(otherSpelling.status, 200, 'another spelling of the token is still accepted, by the app');
});

t.test('a closing broker answers 503 problem+json, not from its cache', async (t) => {
  // Prepare
  const served = await serve(t);
  await request(served.socket, 'POST', '/secrets', { token: TEST_TOKEN, body: { id: 'app/db', value: VALUE } });
  const [handler] = served.app.server.listeners('request') as http.RequestListener[];

  // Act
  await served.app.close();
  const answers = await Promise.all(
    ['/secrets/app/db', '/readyz'].map((url) =>
      inject(handler as http.RequestListener, {
        method: 'GET',
        url,
        headers: { authorization: `Bearer ${TEST_TOKEN}` },
      }),
    ),
  );

  // Assess
  for (const answer of answers) {
    t.equal(answer.statusCode, 503);
    t.match(answer.headers['content-type'], /^application\/problem\+json/);
    t.equal(answer.json().code, 'backend_unavailable');
    t.equal(answer.headers.connection, 'close', 'the connection is not kept for another request');
    t.notOk(answer.body.includes(VALUE));
  }
});

t.test('a cached read answered ahead of the app says whether a write holds the secret’s lock', async (t) => {
  // Prepare
  const served = await serve(t);
  await request(served.socket, 'POST', '/secrets', { token: TEST_TOKEN, body: { id: 'app/db', value: VALUE } });
  served.backend.delayMs = 300;
  served.fullReads.count = 0;
  let settled = false;
  const update = served.broker.update('app/db', { value: 'next-value' }).finally(() => {
    settled = true;
  });

  // Act: read until the write holds the lock (or is already done, which fails below).
  let during = await request(served.socket, 'GET', '/secrets/app/db', { token: TEST_TOKEN });
  while (!during.json().locked && !settled) {
    during = await request(served.socket, 'GET', '/secrets/app/db', { token: TEST_TOKEN });
  }
  await update;
  const after = await request(served.socket, 'GET', '/secrets/app/db', { token: TEST_TOKEN });

  // Assess
  t.equal(during.json().locked, true, 'locked while the write runs');
  t.equal(during.json().value, VALUE, 'with the value cached before it');
  t.equal(after.json().locked, false, 'unlocked after it');
  t.equal(after.json().value, 'next-value');
  t.equal(served.fullReads.count, 0, 'all answered ahead of the app');
});
