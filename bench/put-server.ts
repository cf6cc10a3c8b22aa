/**
 * The broker exactly as `serve` composes it (config from the environment, file backend, cache,
 * metrics, the API app on the Unix socket), except that locking is chosen on the command line:
 * `locks` uses the real per-secret file locks, `no-locks` the no-op. Both sides run through this
 * same script, so the difference between them is the cost of the lock.
 *
 * Usage: node dist/bench/put-server.js locks|no-locks
 */
import { createBackend } from '../agent/backends/create-backend.js';
import { AccessPolicy } from '../agent/broker/access-policy.js';
import { ReadThroughCache } from '../agent/broker/read-through-cache.js';
import { SecretBroker } from '../agent/broker/secret-broker.js';
import { FileSecretLocks, type SecretLocking } from '../agent/broker/secret-locks.js';
import { loadConfig } from '../agent/config/loader.js';
import { buildApiApp } from '../agent/http/app.js';
import { ensureCallerToken } from '../agent/http/caller-auth.js';
import { closeGracefully, listenOnSocket, removeSocketFile } from '../agent/http/listeners.js';
import { BrokerMetrics } from '../agent/observability/broker-metrics.js';
import { createLogger } from '../agent/observability/logger.js';

/** Locking turned off: only for measuring what locks cost, never for serving. */
const noLocking: SecretLocking = {
  acquire: async () => ({ signal: new AbortController().signal, release: async () => undefined }),
  lockedNow: () => false,
  releaseAll: async () => undefined,
};

async function main(): Promise<void> {
  const mode = process.argv[2];
  if (mode !== 'locks' && mode !== 'no-locks') throw new Error('usage: put-server.js locks|no-locks');
  const { config } = loadConfig();
  const logger = createLogger(config.log.level);
  const metrics = new BrokerMetrics(config.backend);
  const locks: SecretLocking =
    mode === 'locks'
      ? new FileSecretLocks({ ...config.lock, onAcquire: (waitedMs, ok) => metrics.lockAcquired(waitedMs, ok) })
      : noLocking;
  const broker = new SecretBroker({
    backend: await createBackend(config),
    locks,
    cache: new ReadThroughCache({ ...config.cache, events: metrics.cacheEvents }),
    retry: config.retry,
    policy: new AccessPolicy(config.policy),
    observer: metrics.brokerObserver,
  });
  const token = await ensureCallerToken(config.auth.tokenFile);
  const app = await buildApiApp({ broker, metrics, token, logger, listener: 'socket' });
  await listenOnSocket(app, config.socket.path, config.socket.mode);
  const stop = async () => {
    await closeGracefully(app, config.shutdown.graceMs);
    await broker.close();
    await removeSocketFile(config.socket.path);
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdout.write(`put server listening (${mode})\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
