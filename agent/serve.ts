/**
 * The composition root of `secrets-broker serve`: builds the backend, broker, cache, locks and
 * metrics from the validated config, binds the listeners, and returns a handle whose `close()` is
 * the graceful shutdown (drain, release locks, unlink the socket).
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createBackend } from './backends/create-backend.js';
import { AccessPolicy } from './broker/access-policy.js';
import { ReadThroughCache } from './broker/read-through-cache.js';
import { SecretBroker } from './broker/secret-broker.js';
import { FileSecretLocks } from './broker/secret-locks.js';
import type { ResolvedConfig } from './config/loader.js';
import { buildApiApp, buildHealthApp } from './http/app.js';
import { ensureCallerToken } from './http/caller-auth.js';
import { closeGracefully, listenAlsoOnTcp, listenOnSocket, listenOnTcp, removeSocketFile } from './http/listeners.js';
import { BrokerMetrics } from './observability/broker-metrics.js';
import { SecretFiles } from './render/secret-files.js';

export interface RunningBroker {
  socketPath: string;
  /** `host:port` of the loopback API listener, if on. */
  tcpAddress?: string;
  /** `host:port` of the health listener, if on. */
  healthAddress?: string;
  close(): Promise<void>;
}

/** The broker over the configured backend, its locks and cache reporting into `metrics`. */
export async function createBroker(
  config: ResolvedConfig,
  logger: Logger,
  metrics: BrokerMetrics,
): Promise<SecretBroker> {
  const backend = await createBackend(config);
  const locks = new FileSecretLocks({
    ...config.lock,
    // A cached entry is answered for its TTL and then, while the backend fails, its stale window: past
    // both, another broker's write no longer matters here until the id is read again.
    markerIdleMs: config.cache.ttlMs + config.cache.staleIfErrorMs,
    onCompromised: (id, err) => logger.error({ id, reason: err.message }, 'secret lock lost during a write'),
    onAcquire: (waitedMs, acquired) => metrics.lockAcquired(waitedMs, acquired),
  });
  const cache = new ReadThroughCache({ ...config.cache, events: metrics.cacheEvents });
  return new SecretBroker({
    backend,
    locks,
    cache,
    retry: config.retry,
    policy: new AccessPolicy(config.policy),
    observer: metrics.brokerObserver,
    watch: { ...config.watch, events: metrics.watchEvents },
  });
}

export async function startBroker(config: ResolvedConfig, logger: Logger): Promise<RunningBroker> {
  const metrics = new BrokerMetrics(config.backend);
  const broker = await createBroker(config, logger, metrics);
  const token = await ensureCallerToken(config.auth.tokenFile);
  const apps: FastifyInstance[] = [];
  const running: RunningBroker = { socketPath: config.socket.path, close: async () => undefined };
  const requestTimeoutMs = config.request.timeoutMs;
  const renders = new SecretFiles({ broker, renders: config.render, logger });
  try {
    // One app for the socket and loopback TCP: its routes and schemas are compiled once.
    const api = await buildApiApp({ broker, metrics, token, logger, listener: 'socket', requestTimeoutMs, renders });
    apps.push(api);
    await listenOnSocket(api, config.socket.path, config.socket.mode);
    if (config.listen.port !== 0) {
      running.tcpAddress = await listenAlsoOnTcp(api, config.listen.host, config.listen.port, 'tcp');
    }
    if (config.health.port !== 0) {
      // A separate open app: it must never route to the secrets API; it costs about 0.3 MiB of heap.
      const health = await buildHealthApp({ broker, metrics, logger, listener: 'health', requestTimeoutMs, renders });
      apps.push(health);
      running.healthAddress = await listenOnTcp(health, config.health.host, config.health.port);
    }
    // Started once the probe can be answered: /readyz says 503 until every file is written.
    renders.start();
  } catch (err) {
    await Promise.allSettled(apps.map((app) => closeGracefully(app, 0)));
    await broker.close().catch(() => undefined);
    throw err;
  }
  let closing: Promise<void> | undefined;
  running.close = () => {
    closing ??= (async () => {
      // Before the watches are released: a released watch would only be opened again.
      await renders.stop();
      const draining = Promise.allSettled(apps.map((app) => closeGracefully(app, config.shutdown.graceMs)));
      // Held watches would keep the drain waiting to the end of the grace period: they answer 304 now.
      broker.releaseWatches();
      await draining;
      await broker.close();
      await removeSocketFile(config.socket.path);
    })();
    return closing;
  };
  return running;
}
