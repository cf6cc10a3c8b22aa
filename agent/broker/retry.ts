/**
 * The one retry layer between the broker and every backend. Backoff delays come from the `retry`
 * package (exponential, randomised for jitter); this wrapper adds what it lacks: a timeout per
 * attempt that aborts the backend call, an overall deadline, Retry-After, and retrying only what
 * `isTransient()` accepts. Backend SDKs have their own retries turned off, so attempts never multiply.
 */
import retry from 'retry';
import { isTransient, SecretError } from '../backends/errors.js';

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  attemptTimeoutMs: number;
  /** Budget for the whole call, retries and waits included. */
  deadlineMs: number;
}

export interface RetryObserver {
  /** Called before each wait with the error that caused it. */
  onRetry?(err: unknown, attempt: number, delayMs: number): void;
}

export interface RetryRuntime {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realRuntime: RetryRuntime = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * Runs `attempt` until it succeeds, fails with a non-transient error, or the attempts or the deadline
 * run out. Each attempt gets its own AbortSignal, aborted at the attempt timeout (or when `outer`
 * aborts); an attempt that ignores its signal is abandoned all the same and counts as a timeout.
 */
export async function withRetry<T>(
  policy: RetryPolicy,
  attempt: (signal: AbortSignal, attemptNumber: number) => Promise<T>,
  observer: RetryObserver = {},
  runtime: RetryRuntime = realRuntime,
  outer?: AbortSignal,
): Promise<T> {
  const delays = retry.timeouts({
    retries: policy.maxAttempts - 1,
    factor: 2,
    minTimeout: policy.baseDelayMs,
    maxTimeout: policy.maxDelayMs,
    randomize: true,
  });
  const deadline = runtime.now() + policy.deadlineMs;
  for (let n = 1; ; n++) {
    const remaining = deadline - runtime.now();
    try {
      return await runAttempt(attempt, n, Math.min(policy.attemptTimeoutMs, remaining), outer);
    } catch (err) {
      const delay = nextDelay(err, delays[n - 1], deadline - runtime.now());
      if (delay === undefined || outer?.aborted) throw err;
      observer.onRetry?.(err, n, delay);
      await runtime.sleep(delay);
    }
  }
}

/** The wait before the next attempt, or undefined when the error is final or no time is left. */
function nextDelay(err: unknown, backoff: number | undefined, remainingMs: number): number | undefined {
  if (!isTransient(err) || backoff === undefined) return undefined;
  const delay = Math.max(backoff, (err as SecretError).retryAfterMs ?? 0);
  // A wait that would leave no time for the attempt after it only delays the failure.
  return delay < remainingMs ? Math.round(delay) : undefined;
}

async function runAttempt<T>(
  attempt: (signal: AbortSignal, attemptNumber: number) => Promise<T>,
  n: number,
  timeoutMs: number,
  outer: AbortSignal | undefined,
): Promise<T> {
  // A signal aborted already fires no 'abort' event: the attempt would run unguarded (a write
  // whose lock was lost during the wait before it), so it is not started at all.
  outer?.throwIfAborted();
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => {
        const err = new SecretError('backend_timeout', `backend call timed out after ${Math.round(timeoutMs)} ms`);
        controller.abort(err);
        reject(err);
      },
      Math.max(0, timeoutMs),
    );
  });
  const onOuterAbort = () => controller.abort(outer?.reason);
  // Removed again in `finally`, so a long-lived outer signal does not collect one listener per call.
  outer?.addEventListener('abort', onOuterAbort);
  try {
    return await Promise.race([attempt(controller.signal, n), timedOut]);
  } catch (err) {
    // An attempt aborted by our timer may reject with its own AbortError first: report the timeout.
    if (controller.signal.aborted && controller.signal.reason instanceof SecretError) throw controller.signal.reason;
    throw err;
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onOuterAbort);
  }
}
