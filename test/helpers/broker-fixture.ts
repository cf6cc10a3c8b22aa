/**
 * The set-up the broker unit tests share: a real SecretBroker over a test backend, with real locks
 * in a temp directory and the real cache without jitter. Each test file says how long its writers
 * wait and how its cache behaves; the directory is removed and the broker closed when the test ends.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import type { SecretBackend } from '../../agent/backends/contract.js';
import type { AccessPolicy } from '../../agent/broker/access-policy.js';
import type { BrokerObserver } from '../../agent/broker/broker-observer.js';
import { ReadThroughCache, type ReadThroughCacheOptions } from '../../agent/broker/read-through-cache.js';
import type { RetryPolicy } from '../../agent/broker/retry.js';
import { SecretBroker } from '../../agent/broker/secret-broker.js';
import { FileSecretLocks } from '../../agent/broker/secret-locks.js';
import { FAST_RETRY } from './broker-app.js';

export interface BrokerFixtureOptions<B extends SecretBackend> {
  backend: B;
  /** How long a writer waits for a held lock before it is refused. */
  lockWaitMs: number;
  cache: Omit<ReadThroughCacheOptions, 'jitterRatio'>;
  /** FAST_RETRY unless a test needs its own timing. */
  retry?: RetryPolicy;
  policy?: AccessPolicy | undefined;
  observer?: BrokerObserver;
}

export interface BrokerFixture<B extends SecretBackend> {
  backend: B;
  broker: SecretBroker;
  locks: FileSecretLocks;
  cache: ReadThroughCache;
  lockDir: string;
}

/** One broker per test, so that each broker test file states only the settings its tests depend on. */
export async function brokerFixture<B extends SecretBackend>(
  t: Test,
  options: BrokerFixtureOptions<B>,
): Promise<BrokerFixture<B>> {
  const { backend, lockWaitMs, retry = FAST_RETRY, policy, observer } = options;
  const lockDir = await mkdtemp(path.join(os.tmpdir(), 'sb-broker-'));
  t.teardown(() => rm(lockDir, { recursive: true, force: true }));
  const locks = new FileSecretLocks({ dir: lockDir, waitMs: lockWaitMs, staleMs: 10_000 });
  const cache = new ReadThroughCache({ ...options.cache, jitterRatio: 0 });
  const broker = new SecretBroker({
    backend,
    locks,
    cache,
    retry,
    ...(policy ? { policy } : {}),
    ...(observer ? { observer } : {}),
  });
  t.teardown(() => broker.close());
  return { backend, broker, locks, cache, lockDir };
}
