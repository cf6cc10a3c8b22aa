/**
 * What the AWS backend makes of a bad day: throttling, 5xx answers, hung and broken connections,
 * injected by the fault proxy between the real SDK and moto. Each failure must come out as the
 * right error kind, so that `isTransient()` (and with it the retry layer) decides correctly.
 */
import { createServer } from 'node:net';
import t from 'tap';
import { createAwsBackend } from '../../agent/backends/aws-secrets-manager/index.js';
import { isTransient } from '../../agent/backends/errors.js';
import { awsFixture, rejectionOf, useEnvironmentCredentials } from '../fixtures/aws/aws-fixture.js';
import { MOTO_REGION, motoForTest } from '../helpers/moto-server.js';

const moto = await motoForTest(t);

if (moto) {
  t.test('a ThrottlingException is throttled and transient, carrying Retry-After when sent', async (t) => {
    // Prepare
    const { backend, proxy } = await awsFixture(t, moto);
    await backend.create({ id: 'a', value: 'one', encoding: 'utf8' });
    proxy.inject({ kind: 'throttle' }, { operation: 'DescribeSecret' });
    proxy.inject({ kind: 'throttle', retryAfterSeconds: 2 }, { operation: 'DescribeSecret' });

    // Act
    const plain = await rejectionOf(backend.describe('a'));
    const withHint = await rejectionOf(backend.describe('a'));

    // Assess
    t.match(plain, { code: 'throttled', retryAfterMs: undefined });
    t.ok(isTransient(plain));
    t.match(withHint, { code: 'throttled', retryAfterMs: 2000 });
  });

  t.test('a bare 429 without an AWS error type is throttled', async (t) => {
    // Prepare
    const { backend, proxy } = await awsFixture(t, moto);
    proxy.inject({ kind: 'throttle', status: 429 }, { operation: 'ListSecrets' });

    // Act
    const err = await rejectionOf(backend.listPage({ pageSize: 10 }));

    // Assess
    t.match(err, { code: 'throttled' });
    t.ok(isTransient(err));
  });

  t.test('5xx answers, with an AWS error body or a plain page, are backend_unavailable', async (t) => {
    // Prepare
    const { backend, proxy } = await awsFixture(t, moto);
    proxy.inject({ kind: 'error', status: 500, type: 'InternalServiceError' }, { operation: 'ListSecrets' });
    proxy.inject({ kind: 'error', status: 503 }, { operation: 'ListSecrets' });
    proxy.inject({ kind: 'error', status: 502 }, { operation: 'ListSecrets' });

    // Act
    const errors = [
      await rejectionOf(backend.listPage({ pageSize: 10 })),
      await rejectionOf(backend.listPage({ pageSize: 10 })),
      await rejectionOf(backend.listPage({ pageSize: 10 })),
    ];

    // Assess
    for (const err of errors) {
      t.match(err, { code: 'backend_unavailable' });
      t.ok(isTransient(err));
    }
  });

  t.test('access denied is forbidden and not transient', async (t) => {
    // Prepare
    const { backend, proxy } = await awsFixture(t, moto);
    proxy.inject({ kind: 'error', status: 400, type: 'AccessDeniedException' }, { operation: 'ListSecrets' });

    // Act
    const err = await rejectionOf(backend.ready());

    // Assess
    t.match(err, { code: 'forbidden' });
    t.notOk(isTransient(err));
  });

  t.test('a KMS decryption failure is a backend_error that says so', async (t) => {
    // Prepare
    const { backend, proxy } = await awsFixture(t, moto);
    await backend.create({ id: 'a', value: 'one', encoding: 'utf8' });
    proxy.inject({ kind: 'error', status: 400, type: 'DecryptionFailure' }, { operation: 'GetSecretValue' });

    // Act
    const err = await rejectionOf(backend.get('a', undefined));

    // Assess
    t.match(err, { code: 'backend_error', message: /KMS/ });
  });

  t.test('a hung connection fails with backend_timeout when the request timeout passes', async (t) => {
    // Prepare: the production client, built by the backend with its own timeouts
    const { backend, proxy } = await awsFixture(t, moto, { ownClient: true, requestTimeoutMs: 300 });
    proxy.inject({ kind: 'hang' }, { operation: 'ListSecrets' });

    // Act
    const err = await rejectionOf(backend.listPage({ pageSize: 10 }));

    // Assess
    t.match(err, { code: 'backend_timeout' });
    t.ok(isTransient(err));
    t.equal(proxy.count('ListSecrets'), 1, 'the SDK did not retry on its own');
  });

  t.test('a hung connection fails with backend_timeout when the caller aborts', async (t) => {
    // Prepare
    const { backend, proxy } = await awsFixture(t, moto, { ownClient: true, requestTimeoutMs: 60_000 });
    proxy.inject({ kind: 'hang' }, { operation: 'ListSecrets' });
    const controller = new AbortController();

    // Act
    const pending = rejectionOf(backend.listPage({ pageSize: 10 }, { signal: controller.signal }));
    await waitFor(() => proxy.count('ListSecrets') === 1);
    controller.abort();
    const err = await pending;

    // Assess
    t.match(err, { code: 'backend_timeout' });
  });

  t.test('a connection reset before any answer is backend_unavailable', async (t) => {
    // Prepare
    const { backend, proxy } = await awsFixture(t, moto, { ownClient: true });
    proxy.inject({ kind: 'reset' }, { operation: 'ListSecrets' });

    // Act
    const err = await rejectionOf(backend.listPage({ pageSize: 10 }));

    // Assess
    t.match(err, { code: 'backend_unavailable' });
  });

  t.test('a refused connection is backend_unavailable, and ready says so', async (t) => {
    // Prepare: a port that was just free, so nothing listens on it
    const port = await closedPort();
    const backend = createAwsBackend({
      region: MOTO_REGION,
      endpoint: `http://127.0.0.1:${port}`,
      recoveryWindowDays: 7,
      requestTimeoutMs: 2000,
    });
    useEnvironmentCredentials(t);
    t.teardown(() => backend.close());

    // Act
    const err = await rejectionOf(backend.ready());

    // Assess
    t.match(err, { code: 'backend_unavailable' });
    t.ok(isTransient(err));
  });
}

/** Polls a condition the test cannot await directly (a request reaching the proxy). */
async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address ? address.port : 0;
}
