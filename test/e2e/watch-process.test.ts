/** Watches in a real broker process: SIGTERM answers every pending watch 304 before the drain ends. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { freePort, startBrokerProcess, waitForOutput } from '../helpers/broker-process.js';
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
