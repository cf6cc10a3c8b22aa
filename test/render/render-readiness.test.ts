/**
 * Readiness with rendered files: /readyz answers 503 until every render has been written once, so
 * the native sidecar's startup probe holds the app until its files exist. A missing secret keeps it
 * 503 with a log line naming the id; neither the answer nor the log carries a value.
 */
import path from 'node:path';
import t from 'tap';
import { buildHealthApp } from '../../agent/http/app.js';
import { BrokerMetrics } from '../../agent/observability/broker-metrics.js';
import { createLogger } from '../../agent/observability/logger.js';
import { contentOf, eventually, renderFixture } from './render-fixture.js';

t.test('/readyz is 503 until each file is written, naming no id; the log names the missing one', async (t) => {
  // Prepare: one secret that exists, one that does not yet
  const { broker: newBroker, render, outDir, logText } = await renderFixture(t);
  const broker = await newBroker();
  await broker.create({ id: 'app/present', value: 'present-value-7731' });
  const present = path.join(outDir, 'present');
  const missing = path.join(outDir, 'missing');
  const files = render(broker, [
    { id: 'app/present', path: present, mode: 0o440 },
    { id: 'app/not-there-yet', path: missing, mode: 0o440 },
  ]);
  const app = await buildHealthApp({
    broker,
    metrics: new BrokerMetrics('file'),
    logger: createLogger('silent'),
    listener: 'health',
    renders: files,
  });
  t.teardown(() => app.close());

  // Act
  const presentWritten = await eventually(async () => (await contentOf(present)) === 'present-value-7731');
  const logged = await eventually(() => logText().includes('app/not-there-yet'));
  const waiting = await app.inject({ method: 'GET', url: '/readyz' });

  // Assess
  t.ok(presentWritten && logged, 'the present secret is written, the missing one logged');
  t.equal(waiting.statusCode, 503);
  t.match(waiting.headers['content-type'], /^application\/problem\+json/);
  t.match(waiting.json(), { code: 'backend_unavailable', detail: /1 of 2 rendered secret files/ });
  t.notMatch(waiting.body, 'app/', 'the open probe answer names no id');
  t.notMatch(waiting.body, 'present-value-7731');
  t.match(logText(), /"id":"app\/not-there-yet".*not ready/, 'the log line names the id');
  t.notMatch(logText(), 'present-value-7731', 'no value reaches the log');

  // Act: the secret appears
  await broker.create({ id: 'app/not-there-yet', value: 'late-value-9902' });
  const ready = await eventually(async () => (await app.inject({ method: 'GET', url: '/readyz' })).statusCode === 200);

  // Assess
  t.ok(ready, '/readyz turns 200 once the late secret is written');
  t.equal(await contentOf(missing), 'late-value-9902');
  t.notMatch(logText(), 'late-value-9902');
});

t.test('/readyz is 503 before the renderer has written anything, 200 right after', async (t) => {
  // Prepare
  const { broker: newBroker, render, outDir } = await renderFixture(t);
  const broker = await newBroker();
  await broker.create({ id: 'app/db', value: 'v' });
  const metrics = new BrokerMetrics('file');
  const logger = createLogger('silent');
  const files = render(broker, [{ id: 'app/db', path: path.join(outDir, 'db'), mode: 0o440 }]);
  const app = await buildHealthApp({ broker, metrics, logger, listener: 'health', renders: files });
  t.teardown(() => app.close());
  const before = files.pending;

  // Act
  const written = await eventually(() => files.pending === 0);
  const after = await app.inject({ method: 'GET', url: '/readyz' });

  // Assess
  t.equal(before, 1, 'nothing written at start');
  t.ok(written);
  t.equal(after.statusCode, 200);
});
