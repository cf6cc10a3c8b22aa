/**
 * Rendered files through `secrets-broker serve` itself: SECRETS_BROKER_RENDER in the environment,
 * the health listener's /readyz held at 503 until the file exists, the file rewritten after a write
 * through the socket, and a clean exit on SIGTERM.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { freePort, MAIN, startBrokerProcess, waitForOutput } from '../helpers/broker-process.js';
import { request } from '../helpers/http-client.js';
import { contentOf, eventually } from './render-fixture.js';

t.test('serve renders SECRETS_BROKER_RENDER entries and is ready only once they are written', async (t) => {
  if (!existsSync(MAIN)) {
    t.fail(`${MAIN} is missing: run npm run build (npm test does it first)`);
    return;
  }
  // Prepare
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-render-serve-'));
  const out = path.join(dir, 'files');
  await mkdir(out);
  const file = path.join(out, 'db-password');
  const health = { host: '127.0.0.1', port: await freePort() };
  const broker = startBrokerProcess(
    {
      SECRETS_BROKER_LISTEN_PORT: '0',
      SECRETS_BROKER_HEALTH_LISTEN_HOST: '127.0.0.1',
      SECRETS_BROKER_HEALTH_LISTEN_PORT: String(health.port),
      SECRETS_BROKER_RENDER: `app/db=${file}`,
    },
    dir,
  );
  t.teardown(async () => {
    broker.child.kill('SIGKILL');
    await broker.exited;
    await rm(dir, { recursive: true, force: true });
  });
  await waitForOutput(broker, (text) => text.includes('serving the file backend'));
  const socket = { socketPath: path.join(dir, '.secrets-broker', 'broker.sock') };
  const token = (await readFile(path.join(dir, '.secrets-broker', 'token'), 'utf8')).trim();

  // Act: no secret yet
  const before = await request(health, 'GET', '/readyz');
  await request(socket, 'POST', '/secrets', { token, body: { id: 'app/db', value: 'first-secret-value' } });
  const ready = await eventually(async () => (await request(health, 'GET', '/readyz')).status === 200);
  const first = await contentOf(file);
  await request(socket, 'PUT', '/secrets/app/db', { token, body: { value: 'second-secret-value' } });
  const rewritten = await eventually(async () => (await contentOf(file)) === 'second-secret-value');
  broker.child.kill('SIGTERM');
  const code = await broker.exited;

  // Assess
  t.equal(before.status, 503, 'not ready before the file exists');
  t.ok(ready, 'ready once it is written');
  t.equal(first, 'first-secret-value');
  t.equal((await stat(file)).mode & 0o777, 0o440);
  t.ok(rewritten, 'a write through the socket rewrites the file');
  t.equal(code, 0, 'SIGTERM ends the broker cleanly while it follows the secret');
  t.match(broker.output(), /"id":"app\/db".*cannot render a secret file/, 'the missing id was logged');
  t.notMatch(broker.output(), /first-secret-value|second-secret-value/, 'no value in the log');
});
