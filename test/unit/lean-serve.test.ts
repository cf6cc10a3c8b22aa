/**
 * The serve path stays lean (issue 5): a broker on the file backend never loads the Kubernetes
 * client or the SDK of a backend it does not use, and serving requests writes no log line at the
 * default level. Loading is observed, not inferred: the built broker runs with a preload that
 * registers a module `load` hook (every ESM module and every CommonJS module reached through
 * `import`) and, at exit, adds every module in the CommonJS cache (modules `require`d by others).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import t, { type Test } from 'tap';
import { type BrokerProcess, MAIN, startBrokerProcess, waitForOutput } from '../helpers/broker-process.js';
import { request } from '../helpers/http-client.js';

/**
 * Packages the file-backend serve path must never load: other backends' clients, the Kubernetes
 * client, swagger (the OpenAPI document is written at build time) and the YAML parser (loaded only
 * to read a config file).
 */
const UNUSED_PACKAGES = ['@kubernetes/client-node', '@aws-sdk/', '@smithy/', 'node-vault', '@fastify/swagger', 'yaml'];

const HOOKS = `import { appendFileSync } from 'node:fs';
export async function load(url, context, nextLoad) {
  appendFileSync(process.env.LOAD_RECORD_FILE, url + '\\n');
  return nextLoad(url, context);
}
`;

const PRELOAD = `import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
register(new URL('./record-hooks.mjs', import.meta.url));
const requireHere = createRequire(import.meta.url);
process.on('exit', () => {
  const files = Object.keys(requireHere.cache).map((file) => 'file://' + file);
  appendFileSync(process.env.LOAD_RECORD_FILE, files.join('\\n') + '\\n');
});
`;

interface RecordedBroker {
  broker: BrokerProcess;
  dir: string;
  socketPath: string;
  /** Stops the broker with SIGTERM and returns every module URL it loaded. */
  stopAndReadLoads(): Promise<string[]>;
}

t.before(() => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build (npm test does it first)`);
});

async function startRecordedBroker(t: Test, env: Record<string, string>): Promise<RecordedBroker> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-lean-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'record-hooks.mjs'), HOOKS);
  await writeFile(path.join(dir, 'record-loads.mjs'), PRELOAD);
  const recordFile = path.join(dir, 'loaded.txt');
  await writeFile(recordFile, '');
  const socketPath = path.join(dir, 'broker.sock');
  const broker = startBrokerProcess(
    {
      NODE_OPTIONS: `--import=${pathToFileURL(path.join(dir, 'record-loads.mjs')).href}`,
      LOAD_RECORD_FILE: recordFile,
      SECRETS_BROKER_SOCKET: socketPath,
      SECRETS_BROKER_LISTEN_PORT: '0',
      SECRETS_BROKER_FILE_DIR: path.join(dir, 'store'),
      ...env,
    },
    dir,
  );
  t.teardown(() => broker.child.kill('SIGKILL'));
  await waitForOutput(broker, (text) => text.startsWith('secrets-broker: ') || /serving the \w+ backend/.test(text));
  const stopAndReadLoads = async () => {
    broker.child.kill('SIGTERM');
    const code = await broker.exited;
    if (code !== 0) throw new Error(`broker exited with ${code}:\n${broker.output()}`);
    return (await readFile(recordFile, 'utf8')).split('\n').filter((line) => line !== '');
  };
  return { broker, dir, socketPath, stopAndReadLoads };
}

function loadedPackages(urls: string[], names: string[]): string[] {
  return names.filter((name) => urls.some((url) => url.includes(`/node_modules/${name}`)));
}

t.test('a broker serving the file backend loads no Kubernetes client, cloud SDK, swagger or YAML parser', async (t) => {
  // Prepare
  const { broker, dir, socketPath, stopAndReadLoads } = await startRecordedBroker(t, {});
  const token = (await readFile(path.join(dir, 'token'), 'utf8')).trim();
  const target = { socketPath };
  const startupLog = broker.output();

  // Act: every route a running sidecar serves, so lazily imported code is reached too
  const created = await request(target, 'POST', '/secrets', { token, body: { id: 'app/db', value: 'v1' } });
  const statuses = [created.status];
  for (let i = 0; i < 2; i++) statuses.push((await request(target, 'GET', '/secrets/app/db', { token })).status);
  const headers = { 'if-match': created.headers.etag as string };
  statuses.push((await request(target, 'PUT', '/secrets/app/db', { token, headers, body: { value: 'v2' } })).status);
  statuses.push((await request(target, 'GET', '/secrets', { token })).status);
  for (const route of ['/readyz', '/healthz', '/metrics', '/openapi.json']) {
    statuses.push((await request(target, 'GET', route, { token })).status);
  }
  const requestLog = broker.output().slice(startupLog.length);
  const loaded = await stopAndReadLoads();

  // Assess
  t.same(statuses, [201, 200, 200, 200, 200, 200, 200, 200, 200], 'every request succeeded');
  t.ok(
    loadedPackages(loaded, ['fastify', 'pino']).length === 2 && loaded.some((url) => url.includes('/backends/file/')),
    'the recorder saw the modules the broker does use (ESM and CommonJS)',
  );
  t.same(loadedPackages(loaded, UNUSED_PACKAGES), [], 'no Kubernetes client, cloud SDK, swagger or YAML parser');
  t.equal(requestLog, '', 'serving requests wrote no log line at the default level (info)');
});

t.test('the same recorder sees the AWS SDK for the aws backend, and the YAML parser for a config file', async (t) => {
  // Prepare: no request reaches AWS; the backend is only built
  const configDir = await mkdtemp(path.join(os.tmpdir(), 'sb-lean-config-'));
  t.teardown(() => rm(configDir, { recursive: true, force: true }));
  const configFile = path.join(configDir, 'broker.yaml');
  await writeFile(configFile, 'backend: aws\n');
  const { broker, stopAndReadLoads } = await startRecordedBroker(t, {
    SECRETS_BROKER_CONFIG: configFile,
    SECRETS_BROKER_AWS_REGION: 'us-east-1',
    SECRETS_BROKER_AWS_ENDPOINT: 'http://127.0.0.1:9',
    AWS_ACCESS_KEY_ID: 'AKIAEXAMPLEEXAMPLE00',
    AWS_SECRET_ACCESS_KEY: 'not-a-real-secret-access-key',
  });
  t.match(broker.output(), /serving the aws backend/);

  // Act
  const loaded = await stopAndReadLoads();

  // Assess
  t.same(loadedPackages(loaded, UNUSED_PACKAGES), ['@aws-sdk/', '@smithy/', 'yaml'], 'the AWS SDK and YAML, only');
});
