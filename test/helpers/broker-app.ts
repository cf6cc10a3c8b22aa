/**
 * Builds the real broker and Fastify API app over any backend, for tests that drive the HTTP API
 * through `app.inject`: real locks in a temp directory, the real cache and metrics, and a logger
 * whose output is kept so tests can scan it for secret values.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import type http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import inject from 'light-my-request';
import type { SecretBackend } from '../../agent/backends/contract.js';
import { AccessPolicy, type PolicyRules } from '../../agent/broker/access-policy.js';
import { ReadThroughCache } from '../../agent/broker/read-through-cache.js';
import type { RetryPolicy } from '../../agent/broker/retry.js';
import { SecretBroker, type WatchSettings } from '../../agent/broker/secret-broker.js';
import { FileSecretLocks } from '../../agent/broker/secret-locks.js';
import { buildApiApp } from '../../agent/http/app.js';
import { BrokerMetrics } from '../../agent/observability/broker-metrics.js';
import { createLogger } from '../../agent/observability/logger.js';
import { ROOT } from './broker-process.js';

export const TEST_TOKEN = 'test-token-0123456789abcdef';

export const FAST_RETRY: RetryPolicy = {
  maxAttempts: 3,
  baseDelayMs: 5,
  maxDelayMs: 20,
  attemptTimeoutMs: 5000,
  deadlineMs: 10_000,
};

export interface TestAppOptions {
  cacheTtlMs?: number;
  lockWaitMs?: number;
  retry?: Partial<RetryPolicy>;
  policy?: PolicyRules;
  watch?: Partial<WatchSettings>;
}

export interface TestApp {
  app: FastifyInstance;
  broker: SecretBroker;
  metrics: BrokerMetrics;
  lockDir: string;
  /** Every log line written so far, at trace level. */
  logText(): string;
  /**
   * An injected request with the bearer token and JSON body handling, through what the listeners
   * run (the cached-read lane, then the app), not through the app alone as `app.inject` does.
   */
  call(options: InjectOptions & { body?: unknown }): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export async function buildTestApp(backend: SecretBackend, options: TestAppOptions = {}): Promise<TestApp> {
  const lockDir = await mkdtemp(path.join(os.tmpdir(), 'sb-locks-'));
  const logLines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  const logger = createLogger('trace', sink);
  const metrics = new BrokerMetrics(backend.kind);
  const broker = new SecretBroker({
    backend,
    locks: new FileSecretLocks({ dir: lockDir, waitMs: options.lockWaitMs ?? 2000, staleMs: 10_000 }),
    cache: new ReadThroughCache({
      ttlMs: options.cacheTtlMs ?? 60_000,
      maxEntries: 1000,
      staleIfErrorMs: 60_000,
      jitterRatio: 0,
      events: metrics.cacheEvents,
    }),
    retry: { ...FAST_RETRY, ...options.retry },
    policy: new AccessPolicy(options.policy),
    observer: metrics.brokerObserver,
    watch: { pollIntervalMs: 10_000, maxWatches: 1000, events: metrics.watchEvents, ...options.watch },
  });
  // The document `npm run build` writes (tests run the TypeScript sources, beside which there is none).
  const openapiFile = path.join(ROOT, 'dist/agent/openapi.json');
  const app = await buildApiApp({ broker, metrics, logger, listener: 'test', token: TEST_TOKEN, openapiFile });
  await app.ready();
  const [handler] = app.server.listeners('request') as http.RequestListener[];
  return {
    app,
    broker,
    metrics,
    lockDir,
    logText: () => logLines.join(''),
    call: ({ body, headers, ...rest }) =>
      inject(handler as http.RequestListener, {
        ...rest,
        headers: { authorization: `Bearer ${TEST_TOKEN}`, ...headers },
        ...(body === undefined ? {} : { payload: body as InjectOptions['payload'] }),
      }),
    close: async () => {
      await app.close();
      await broker.close();
      await rm(lockDir, { recursive: true, force: true });
    },
  };
}
