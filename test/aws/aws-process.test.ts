/**
 * The built broker as a real process with SECRETS_BROKER_BACKEND=aws against moto: it starts, is
 * ready, serves a create / read / update / delete session, and stops on SIGTERM.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { freePort, MAIN, startBrokerProcess, waitForOutput } from '../helpers/broker-process.js';
import { request, type Target } from '../helpers/http-client.js';
import { MOTO_CREDENTIALS, MOTO_REGION, motoForTest } from '../helpers/moto-server.js';

const moto = await motoForTest(t);

if (moto) {
  t.test('a broker process on the aws backend serves the API against moto', async (t) => {
    // Prepare
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build (npm test does it first)`);
    await moto.reset();
    const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-aws-e2e-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const port = await freePort();
    const broker = startBrokerProcess(
      {
        SECRETS_BROKER_BACKEND: 'aws',
        SECRETS_BROKER_AWS_ENDPOINT: moto.endpoint,
        SECRETS_BROKER_SOCKET: path.join(dir, 'run', 'broker.sock'),
        SECRETS_BROKER_LISTEN_PORT: String(port),
        AWS_REGION: MOTO_REGION,
        AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
        AWS_CONFIG_FILE: path.join(dir, 'no-config'),
        AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'no-credentials'),
        AWS_EC2_METADATA_DISABLED: 'true',
      },
      dir,
    );
    t.teardown(() => broker.child.kill('SIGKILL'));
    await waitForOutput(broker, (text) => text.includes('serving the aws backend'));
    const token = (await readFile(path.join(dir, 'run', 'token'), 'utf8')).trim();
    const tcp: Target = { host: '127.0.0.1', port };

    // Act
    const ready = await request(tcp, 'GET', '/readyz');
    const created = await request(tcp, 'POST', '/secrets', { token, body: { id: 'prod/api-key', value: 'v-one' } });
    const put = await request(tcp, 'PUT', '/secrets/prod/api-key', {
      token,
      body: { value: 'v-two' },
      headers: { 'if-match': created.headers.etag as string },
    });
    const read = await request(tcp, 'GET', '/secrets/prod/api-key', {
      token,
      headers: { 'cache-control': 'no-cache' },
    });
    const deleted = await request(tcp, 'DELETE', '/secrets/prod/api-key', { token });
    const recreate = await request(tcp, 'POST', '/secrets', { token, body: { id: 'prod/api-key', value: 'x' } });
    broker.child.kill('SIGTERM');
    const exitCode = await broker.exited;

    // Assess
    t.equal(ready.status, 200, '/readyz: credentials resolve and moto answers');
    t.equal(created.status, 201);
    t.equal(put.status, 200);
    t.match(read.json(), { id: 'prod/api-key', value: 'v-two', encoding: 'utf8' });
    t.equal(read.headers.etag, put.headers.etag);
    t.equal(deleted.status, 204);
    t.match(recreate.json(), { status: 409, code: 'pending_deletion' });
    t.equal(exitCode, 0, 'SIGTERM stops it cleanly');
    t.notMatch(broker.output(), /v-one|v-two/, 'no value in its output');
  });
}
