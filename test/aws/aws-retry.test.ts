/**
 * The AWS backend under the broker's retry layer, with faults injected between the SDK and moto:
 * transient failures are retried with backoff and then succeed, persistent ones stop after a bounded
 * number of backend calls or at the deadline, and final errors are not retried at all.
 */
import t from 'tap';
import { isTransient } from '../../agent/backends/errors.js';
import { type RetryPolicy, withRetry } from '../../agent/broker/retry.js';
import { awsFixture, rejectionOf } from '../fixtures/aws/aws-fixture.js';
import { motoForTest } from '../helpers/moto-server.js';

const moto = await motoForTest(t);

const policy: RetryPolicy = {
  maxAttempts: 4,
  baseDelayMs: 10,
  maxDelayMs: 100,
  attemptTimeoutMs: 5000,
  deadlineMs: 30_000,
};

/** Records the delay chosen before each retry, to show the backoff without timing anything. */
function delayRecorder(): { delays: number[]; onRetry: (err: unknown, attempt: number, delayMs: number) => void } {
  const delays: number[] = [];
  return { delays, onRetry: (_err, _attempt, delayMs) => delays.push(delayMs) };
}

if (moto) {
  t.test('a burst of 5xx answers is retried with growing backoff and then succeeds', async (t) => {
    // Prepare
    const { backend, proxy } = await awsFixture(t, moto);
    await backend.create({ id: 'a', value: 'one', encoding: 'utf8' });
    proxy.inject({ kind: 'error', status: 503 }, { operation: 'GetSecretValue', times: 2 });
    const recorder = delayRecorder();

    // Act
    const read = await withRetry(policy, (signal) => backend.get('a', undefined, { signal }), recorder);

    // Assess
    t.equal(read.value, 'one');
    t.equal(proxy.count('GetSecretValue'), 3, 'two failures, then the success');
    t.equal(recorder.delays.length, 2);
    t.ok(recorder.delays.every((d) => d >= policy.baseDelayMs));
    t.ok((recorder.delays[1] ?? 0) >= (recorder.delays[0] ?? 0), 'the second wait is not shorter than the first');
  });

  t.test('persistent throttling stops after maxAttempts backend calls and answers throttled', async (t) => {
    // Prepare
    const { backend, proxy } = await awsFixture(t, moto);
    proxy.inject({ kind: 'throttle' }, { operation: 'ListSecrets', times: 10 });

    // Act
    const err = await rejectionOf(withRetry(policy, (signal) => backend.listPage({ pageSize: 10 }, { signal })));

    // Assess
    t.match(err, { code: 'throttled' });
    t.equal(proxy.count('ListSecrets'), policy.maxAttempts);
  });

  t.test('Retry-After from a throttled answer sets the wait before the next attempt', async (t) => {
    // Prepare
    const { backend, proxy } = await awsFixture(t, moto);
    proxy.inject({ kind: 'throttle', retryAfterSeconds: 1 }, { operation: 'ListSecrets' });
    const recorder = delayRecorder();

    // Act
    await withRetry(policy, (signal) => backend.listPage({ pageSize: 10 }, { signal }), recorder);

    // Assess
    t.same(recorder.delays.length, 1);
    t.ok((recorder.delays[0] ?? 0) >= 1000, 'the wait is at least the second AWS asked for');
  });

  t.test('hung connections end at the deadline, with fewer calls than maxAttempts allows', async (t) => {
    // Prepare
    const { backend, proxy } = await awsFixture(t, moto);
    proxy.inject({ kind: 'hang' }, { operation: 'ListSecrets', times: 20 });
    const tight: RetryPolicy = {
      maxAttempts: 20,
      baseDelayMs: 10,
      maxDelayMs: 20,
      attemptTimeoutMs: 150,
      deadlineMs: 500,
    };

    // Act
    const err = await rejectionOf(withRetry(tight, (signal) => backend.listPage({ pageSize: 10 }, { signal })));

    // Assess
    t.match(err, { code: 'backend_timeout' });
    t.ok(isTransient(err));
    const calls = proxy.count('ListSecrets');
    t.ok(calls >= 2 && calls < tight.maxAttempts, `the deadline, not maxAttempts, stopped it (${calls} calls)`);
  });

  t.test('a final error such as access denied is not retried', async (t) => {
    // Prepare
    const { backend, proxy } = await awsFixture(t, moto);
    proxy.inject({ kind: 'error', status: 400, type: 'AccessDeniedException' }, { operation: 'ListSecrets' });

    // Act
    const err = await rejectionOf(withRetry(policy, (signal) => backend.listPage({ pageSize: 10 }, { signal })));

    // Assess
    t.match(err, { code: 'forbidden' });
    t.equal(proxy.count('ListSecrets'), 1);
  });

  t.test('a put whose answer is lost is retried by the retry layer and applied once', async (t) => {
    // Prepare
    const { backend, proxy } = await awsFixture(t, moto);
    await backend.create({ id: 'a', value: 'one', encoding: 'utf8' });
    proxy.inject({ kind: 'drop-response' }, { operation: 'PutSecretValue' });
    const requestToken = '9b2f4d7a-0c1e-4f3a-8d5b-6e7f8a9b0c1d';

    // Act
    const put = await withRetry(policy, (signal) =>
      backend.put('a', { value: 'two', encoding: 'utf8' }, { signal, requestToken }),
    );

    // Assess
    t.equal(put.version, requestToken);
    t.equal(proxy.count('PutSecretValue'), 2);
    t.equal((await backend.get('a', undefined)).value, 'two');
  });
}
