import t from 'tap';
import { SecretError } from '../../agent/backends/errors.js';
import { type RetryPolicy, type RetryRuntime, withRetry } from '../../agent/broker/retry.js';

/** A clock that only moves when the code under test sleeps (or a test moves it), and records each sleep. */
class FakeRuntime implements RetryRuntime {
  ms = 0;
  readonly sleeps: number[] = [];

  now(): number {
    return this.ms;
  }

  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.ms += ms;
  }
}

const POLICY: RetryPolicy = {
  maxAttempts: 4,
  baseDelayMs: 100,
  maxDelayMs: 2000,
  attemptTimeoutMs: 5000,
  deadlineMs: 60_000,
};

const unavailable = () => new SecretError('backend_unavailable', 'backend answered 503');

/** An attempt that fails with a fresh `failure()` on its first `failures` calls, then answers 'ok'; counts its calls. */
class FailingAttempt {
  calls = 0;
  constructor(
    private readonly failure: () => unknown,
    private readonly failures = Number.POSITIVE_INFINITY,
  ) {}

  readonly run = async (): Promise<string> => {
    if (this.calls++ < this.failures) throw this.failure();
    return 'ok';
  };
}

/** Runs withRetry and returns the rejection, failing the test if it resolves. */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

t.test('a transient failure is retried until the attempt succeeds', async (t) => {
  // Prepare
  const runtime = new FakeRuntime();
  const seen: number[] = [];
  const retries: [string, number, number][] = [];

  // Act
  const result = await withRetry(
    POLICY,
    async (_signal, n) => {
      seen.push(n);
      if (n < 3) throw unavailable();
      return 'value';
    },
    { onRetry: (err, n, delay) => retries.push([(err as SecretError).code, n, delay]) },
    runtime,
  );

  // Assess
  t.equal(result, 'value');
  t.same(seen, [1, 2, 3]);
  t.equal(runtime.sleeps.length, 2);
  t.same(
    retries.map(([code, n]) => [code, n]),
    [
      ['backend_unavailable', 1],
      ['backend_unavailable', 2],
    ],
  );
  t.same(
    retries.map(([, , delay]) => delay),
    runtime.sleeps,
    'the observer is told the delay actually slept',
  );
});

t.test('transient failures stop after maxAttempts with the last error', async (t) => {
  // Prepare
  const runtime = new FakeRuntime();
  let calls = 0;
  const errors = [1, 2, 3, 4, 5].map((n) => new SecretError('throttled', `throttled ${n}`));

  // Act
  const err = await rejectionOf(
    withRetry(
      POLICY,
      async () => {
        throw errors[calls++];
      },
      {},
      runtime,
    ),
  );

  // Assess
  t.equal(calls, POLICY.maxAttempts);
  t.equal(err, errors[POLICY.maxAttempts - 1]);
  t.equal(runtime.sleeps.length, POLICY.maxAttempts - 1);
});

t.test('every transient code is retried', async (t) => {
  for (const code of ['throttled', 'backend_unavailable', 'backend_timeout'] as const) {
    // Prepare
    const attempt = new FailingAttempt(() => new SecretError(code, code), 1);

    // Act
    await withRetry(POLICY, attempt.run, {}, new FakeRuntime());

    // Assess
    t.equal(attempt.calls, 2, code);
  }
});

t.test('a non-transient failure is not retried', async (t) => {
  // Prepare
  const failures = [
    new SecretError('not_found', 'gone'),
    new SecretError('precondition_failed', 'version moved'),
    new SecretError('backend_error', 'bad request'),
    new TypeError('a bug'),
  ];

  for (const failure of failures) {
    const runtime = new FakeRuntime();
    const attempt = new FailingAttempt(() => failure);

    // Act
    const err = await rejectionOf(withRetry(POLICY, attempt.run, {}, runtime));

    // Assess
    t.equal(err, failure, failure.message);
    t.equal(attempt.calls, 1, `${failure.message}: one attempt`);
    t.same(runtime.sleeps, [], `${failure.message}: no wait`);
  }
});

t.test('Retry-After is the minimum wait before the next attempt', async (t) => {
  // Prepare
  const runtime = new FakeRuntime();
  const attempt = new FailingAttempt(() => new SecretError('throttled', 'slow down', { retryAfterMs: 1500 }), 1);

  // Act
  await withRetry({ ...POLICY, baseDelayMs: 10, maxDelayMs: 50 }, attempt.run, {}, runtime);

  // Assess
  t.same(runtime.sleeps, [1500]);
});

t.test('a backoff longer than Retry-After wins', async (t) => {
  // Prepare
  const runtime = new FakeRuntime();
  const attempt = new FailingAttempt(() => new SecretError('throttled', 'slow down', { retryAfterMs: 1 }), 1);

  // Act
  await withRetry({ ...POLICY, baseDelayMs: 400, maxDelayMs: 400 }, attempt.run, {}, runtime);

  // Assess
  t.same(runtime.sleeps, [400]);
});

t.test('no wait is started that would end past the deadline', async (t) => {
  // Prepare: each wait is exactly 400 ms; the budget is 1000 ms.
  const runtime = new FakeRuntime();
  const attempt = new FailingAttempt(unavailable);
  const policy = { ...POLICY, maxAttempts: 10, baseDelayMs: 400, maxDelayMs: 400, deadlineMs: 1000 };

  // Act
  const err = await rejectionOf(withRetry(policy, attempt.run, {}, runtime));

  // Assess
  t.equal((err as SecretError).code, 'backend_unavailable');
  t.equal(attempt.calls, 3, 'attempts at 0, 400 and 800 ms; a wait to 1200 ms would pass the deadline');
  t.same(runtime.sleeps, [400, 400]);
});

t.test('time spent inside attempts counts against the deadline', async (t) => {
  // Prepare
  const runtime = new FakeRuntime();
  let calls = 0;

  // Act
  await rejectionOf(
    withRetry(
      { ...POLICY, deadlineMs: 1000 },
      async () => {
        calls++;
        runtime.ms += 950;
        throw unavailable();
      },
      {},
      runtime,
    ),
  );

  // Assess
  t.equal(calls, 1);
  t.same(runtime.sleeps, []);
});

t.test('an attempt that never settles is abandoned at the attempt timeout as backend_timeout', async (t) => {
  // Prepare
  let signal: AbortSignal | undefined;

  // Act
  const err = await rejectionOf(
    withRetry(
      { ...POLICY, maxAttempts: 1, attemptTimeoutMs: 20 },
      (attemptSignal) => {
        signal = attemptSignal;
        return new Promise<never>(() => undefined);
      },
      {},
      new FakeRuntime(),
    ),
  );

  // Assess
  t.ok(err instanceof SecretError);
  t.equal((err as SecretError).code, 'backend_timeout');
  t.equal(signal?.aborted, true, 'the attempt was told to stop');
  t.equal((signal?.reason as SecretError | undefined)?.code, 'backend_timeout');
});

t.test('an attempt that rejects with its own AbortError on timeout is reported as backend_timeout', async (t) => {
  // Act
  const err = await rejectionOf(
    withRetry(
      { ...POLICY, maxAttempts: 1, attemptTimeoutMs: 20 },
      (signal) =>
        new Promise<never>((_, reject) => {
          signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
        }),
      {},
      new FakeRuntime(),
    ),
  );

  // Assess
  t.equal((err as SecretError).code, 'backend_timeout');
});

t.test('a timed-out attempt is retried with a fresh, unaborted signal', async (t) => {
  // Prepare
  const signals: AbortSignal[] = [];

  // Act
  const result = await withRetry(
    { ...POLICY, attemptTimeoutMs: 20 },
    (signal, n) => {
      signals.push(signal);
      return n === 1 ? new Promise<never>(() => undefined) : Promise.resolve(`attempt ${n}`);
    },
    {},
    new FakeRuntime(),
  );

  // Assess
  t.equal(result, 'attempt 2');
  t.equal(signals[0]?.aborted, true);
  t.equal(signals[1]?.aborted, false);
});

t.test('an outer abort stops the attempt and is not retried', async (t) => {
  // Prepare
  const outer = new AbortController();
  const runtime = new FakeRuntime();
  let calls = 0;

  // Act
  const err = await rejectionOf(
    withRetry(
      POLICY,
      (signal) => {
        calls++;
        queueMicrotask(() => outer.abort(new Error('client went away')));
        return new Promise<never>((_, reject) => {
          signal.addEventListener('abort', () => reject(unavailable()));
        });
      },
      {},
      runtime,
      outer.signal,
    ),
  );

  // Assess
  t.equal(calls, 1);
  t.equal((err as SecretError).code, 'backend_unavailable');
  t.same(runtime.sleeps, []);
});

t.test('no attempt is started once the caller has aborted, as during the wait before a retry', async (t) => {
  // Prepare: the caller gives up (a write's lock is lost, say) while the first failure's backoff runs.
  const outer = new AbortController();
  const lockLost = new SecretError('locked', "lock of secret 'a' was lost during the write");
  const runtime = new FakeRuntime();
  const sleep = runtime.sleep.bind(runtime);
  runtime.sleep = async (ms) => {
    await sleep(ms);
    outer.abort(lockLost);
  };
  let calls = 0;

  // Act
  const err = await rejectionOf(
    withRetry(
      POLICY,
      async () => {
        calls++;
        if (calls === 1) throw unavailable();
        return 'written';
      },
      {},
      runtime,
      outer.signal,
    ),
  );

  // Assess
  t.equal(calls, 1, 'the retry never ran');
  t.equal(err, lockLost, "the caller's reason is the answer");
});

t.test('delays grow exponentially with jitter: the n-th lies between base*2^n and base*2^(n+1)', async (t) => {
  // Prepare
  const runtime = new FakeRuntime();
  const policy = { ...POLICY, maxAttempts: 7, baseDelayMs: 10, maxDelayMs: 100_000, deadlineMs: 10_000_000 };

  // Act
  await rejectionOf(withRetry(policy, new FailingAttempt(unavailable).run, {}, runtime));

  // Assess
  t.equal(runtime.sleeps.length, 6);
  runtime.sleeps.forEach((delay, n) => {
    t.ok(delay >= 10 * 2 ** n && delay <= 10 * 2 ** (n + 1), `delay ${n} = ${delay}`);
  });
  for (let n = 1; n < runtime.sleeps.length; n++) {
    t.ok((runtime.sleeps[n] as number) >= (runtime.sleeps[n - 1] as number), `delay ${n} is not shorter than before`);
  }
});

t.test('no backoff delay exceeds maxDelayMs', async (t) => {
  // Prepare
  const runtime = new FakeRuntime();
  const policy = { ...POLICY, maxAttempts: 8, baseDelayMs: 100, maxDelayMs: 300, deadlineMs: 1_000_000 };

  // Act
  await rejectionOf(withRetry(policy, new FailingAttempt(unavailable).run, {}, runtime));

  // Assess
  t.equal(runtime.sleeps.length, 7);
  for (const delay of runtime.sleeps) t.ok(delay >= 100 && delay <= 300, `delay ${delay}`);
  t.equal(runtime.sleeps.at(-1), 300, 'late delays are capped');
});

t.test('a wait that would end exactly at the deadline is not started: it would leave no time to try', async (t) => {
  // Prepare: each wait is exactly 400 ms; the budget is 800 ms.
  const runtime = new FakeRuntime();
  const attempt = new FailingAttempt(unavailable);
  const policy = { ...POLICY, maxAttempts: 10, baseDelayMs: 400, maxDelayMs: 400, deadlineMs: 800 };

  // Act
  await rejectionOf(withRetry(policy, attempt.run, {}, runtime));

  // Assess
  t.equal(attempt.calls, 2, 'attempts at 0 and 400 ms; a wait to 800 ms would end at the deadline');
  t.same(runtime.sleeps, [400]);
});

t.test('an attempt that takes real time within its timeout succeeds', async (t) => {
  // Act
  const result = await withRetry(
    { ...POLICY, maxAttempts: 1, attemptTimeoutMs: 5000 },
    () => new Promise<string>((resolve) => setTimeout(() => resolve('slow but in time'), 20)),
    {},
    new FakeRuntime(),
  );

  // Assess
  t.equal(result, 'slow but in time');
});

t.test('an attempt is cut off at the overall deadline when that comes before its own timeout', async (t) => {
  // Prepare: the clock does not start at zero, as performance.now() never does.
  const runtime = new FakeRuntime();
  runtime.ms = 50_000;

  // Act
  const err = await rejectionOf(
    withRetry(
      { ...POLICY, maxAttempts: 1, attemptTimeoutMs: 3000, deadlineMs: 20 },
      () => new Promise<never>(() => undefined),
      {},
      runtime,
    ),
  );

  // Assess
  t.equal((err as SecretError).code, 'backend_timeout');
  t.equal((err as SecretError).message, 'backend call timed out after 20 ms', 'the message gives the time allowed');
});

t.test('retry delays are jittered, so callers that failed together do not retry in lockstep', async (t) => {
  // Prepare
  const firstDelays = new Set<number>();

  // Act: twenty callers whose first attempt fails the same way.
  for (let caller = 0; caller < 20; caller++) {
    const runtime = new FakeRuntime();
    await withRetry(
      { ...POLICY, baseDelayMs: 1000, maxDelayMs: 10_000 },
      new FailingAttempt(unavailable, 1).run,
      {},
      runtime,
    );
    firstDelays.add(runtime.sleeps[0] as number);
  }

  // Assess: drawn from 1000-2000 ms; twenty equal draws would mean no jitter at all.
  t.ok(firstDelays.size > 1, `first delays: ${[...firstDelays].join(', ')}`);
});

t.test('on the real clock, a transient failure is retried only after its announced delay', async (t) => {
  // Prepare
  let calls = 0;
  let delayElapsed = false;

  // Act
  const result = await withRetry(
    { ...POLICY, baseDelayMs: 5, maxDelayMs: 10 },
    async () => {
      if (calls++ > 0) return delayElapsed;
      throw unavailable();
    },
    {
      // A timer set for less than the announced delay, started before the wait, fires before it ends.
      onRetry: (_err, _n, delayMs) => void setTimeout(() => (delayElapsed = true), delayMs - 1),
    },
  );

  // Assess
  t.equal(calls, 2);
  t.equal(result, true, 'the second attempt started after the delay');
});

t.test('a call that succeeded leaves no timer behind to abort its signal later', async (t) => {
  // Prepare
  let signal: AbortSignal | undefined;

  // Act
  await withRetry(
    { ...POLICY, attemptTimeoutMs: 10 },
    async (attemptSignal) => {
      signal = attemptSignal;
      return 'done';
    },
    {},
    new FakeRuntime(),
  );
  // A timer set later and for longer than the attempt timeout fires after it would have.
  await new Promise((resolve) => setTimeout(resolve, 30));

  // Assess
  t.equal(signal?.aborted, false, 'a backend still reading its answer is not cut off');
});

t.test("a finished call stops listening to the caller's signal", async (t) => {
  // Prepare: one long-lived signal (a server's shutdown, say) shared by many calls.
  const outer = new AbortController();
  let signal: AbortSignal | undefined;

  // Act
  await withRetry(
    POLICY,
    async (attemptSignal) => {
      signal = attemptSignal;
      return 'done';
    },
    {},
    new FakeRuntime(),
    outer.signal,
  );
  outer.abort(new Error('shutting down'));

  // Assess
  t.equal(signal?.aborted, false, 'the finished attempt is not aborted after the fact');
});
