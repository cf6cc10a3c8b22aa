/**
 * Retries and token rotation, against a scripted server on a Unix socket: a real broker cannot be
 * made to answer 423 or 503 at a chosen moment.
 */
import { writeFile } from 'node:fs/promises';
import t from 'tap';
import { SecretsBrokerClient, SecretsBrokerError } from '../../agent/client/index.js';
import { retryDelayMs } from '../../agent/client/transport.js';
import { problem, startScriptedServer } from './scripted-server.js';

const secret = { id: 'a', value: 'v', version: '2', encoding: 'utf8', locked: false };

t.test('a 423 is retried after the Retry-After the broker asked for', async (t) => {
  // Prepare
  const server = await startScriptedServer(t, [
    { status: 423, headers: { 'retry-after': '1' }, body: problem(423, 'locked', 'secret a is locked') },
    { status: 200, body: secret },
  ]);
  const client = new SecretsBrokerClient({ socketPath: server.socketPath });
  t.teardown(() => client.close());

  // Act
  const read = await client.get('a');

  // Assess
  t.equal(read.value, 'v');
  t.equal(server.requests.length, 2);
  const [first, second] = server.requests;
  t.ok(second!.at - first!.at >= 990, `waited ${Math.round(second!.at - first!.at)} ms, at least Retry-After's 1 s`);
});

t.test('Retry-After is capped, so a far-off date cannot stall a caller', async (t) => {
  // Prepare
  const later = new Date(Date.now() + 3_600_000).toUTCString();
  const server = await startScriptedServer(t, [
    { status: 429, headers: { 'retry-after': '3600' }, body: problem(429, 'throttled', 'slow down') },
    { status: 503, headers: { 'retry-after': later }, body: problem(503, 'backend_unavailable', 'down') },
    { status: 201, body: { id: 'a', version: '1', encoding: 'utf8' } },
  ]);
  const client = new SecretsBrokerClient({ socketPath: server.socketPath, maxRetryDelayMs: 20 });
  t.teardown(() => client.close());

  // Act
  const created = await client.create({ id: 'a', value: 'v' });

  // Assess
  t.equal(created.version, '1');
  t.equal(server.requests.length, 3, '429 and 503 are retried too');
  t.same(
    server.requests.map((r) => r.body),
    Array(3).fill(JSON.stringify({ id: 'a', value: 'v' })),
    'the same request each time',
  );
});

t.test('retries are bounded: the last refusal is thrown with its code', async (t) => {
  // Prepare
  const unavailable = {
    status: 503,
    headers: { 'retry-after': '0' },
    body: problem(503, 'backend_unavailable', 'down'),
  };
  const server = await startScriptedServer(t, [unavailable, unavailable, unavailable, { status: 200, body: secret }]);
  const client = new SecretsBrokerClient({ socketPath: server.socketPath, maxRetries: 2 });
  t.teardown(() => client.close());

  // Act
  const error = await client.get('a').catch((err: unknown) => err);

  // Assess
  t.ok(error instanceof SecretsBrokerError);
  t.match(error, { code: 'backend_unavailable', status: 503, detail: 'down' });
  t.equal(server.requests.length, 3, 'one call and two retries');
});

t.test('an answer that is not a problem body fails with invalid_response', async (t) => {
  // Prepare
  const server = await startScriptedServer(t, [{ status: 502, body: 'Bad Gateway' }]);
  const client = new SecretsBrokerClient({ socketPath: server.socketPath });
  t.teardown(() => client.close());

  // Act
  const error = await client.get('a').catch((err: unknown) => err);

  // Assess
  t.match(error, { name: 'SecretsBrokerError', code: 'invalid_response', status: 502 });
});

t.test('a changed token file is read before the next call, which sends the new token first time', async (t) => {
  // Prepare
  const server = await startScriptedServer(t, [
    { status: 200, body: secret },
    { status: 200, body: secret },
  ]);
  const client = new SecretsBrokerClient({ socketPath: server.socketPath, tokenFile: server.tokenFile });
  t.teardown(() => client.close());
  await client.get('a');

  // Act
  await writeFile(server.tokenFile, 'rotated-token-with-another-length\n');
  await client.get('a');

  // Assess
  t.same(
    server.requests.map((r) => r.headers.authorization),
    [`Bearer ${server.token}`, 'Bearer rotated-token-with-another-length'],
  );
});

t.test('the delay before a retry follows Retry-After in seconds or as a date, else doubles', async (t) => {
  // Prepare
  const now = Date.parse('2026-12-02T10:00:00Z');

  // Act
  const delays = {
    seconds: retryDelayMs('2', 0, 10_000, now),
    date: retryDelayMs('Wed, 02 Dec 2026 10:00:03 GMT', 0, 10_000, now),
    past: retryDelayMs('Wed, 02 Dec 2026 09:00:00 GMT', 0, 10_000, now),
    none: [0, 1, 2].map((attempt) => retryDelayMs(undefined, attempt, 10_000, now)),
    capped: retryDelayMs('60', 0, 5_000, now),
  };

  // Assess
  t.same(delays, { seconds: 2_000, date: 3_000, past: 0, none: [250, 500, 1_000], capped: 5_000 });
});
