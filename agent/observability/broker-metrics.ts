/**
 * Prometheus metrics, all named `secrets_broker_*`, in one registry per process. Labels carry route
 * templates, statuses, operations and error codes only: never an id (unbounded) or a value.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { SecretError } from '../backends/errors.js';
import type { BrokerObserver } from '../broker/broker-observer.js';
import type { CacheEvents } from '../broker/read-through-cache.js';
import type { WatchEvents } from '../broker/watch-hub.js';

/** The bound label children of one request series: looked up through nested maps, no label object hashed. */
interface RequestSeries {
  readonly count: { inc(): void };
  readonly seconds: { observe(value: number): void };
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class BrokerMetrics {
  readonly registry = new Registry();
  readonly #requests = new Counter({
    name: 'secrets_broker_http_requests_total',
    help: 'HTTP requests by listener, method, route and status.',
    labelNames: ['listener', 'method', 'route', 'status'],
    registers: [this.registry],
  });
  readonly #requestSeconds = new Histogram({
    name: 'secrets_broker_http_request_duration_seconds',
    help: 'HTTP request latency by route.',
    labelNames: ['method', 'route'],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly #backendCalls = new Counter({
    name: 'secrets_broker_backend_calls_total',
    help: 'Backend operations (retries included) by backend, operation and outcome (ok or an error code).',
    labelNames: ['backend', 'operation', 'outcome'],
    registers: [this.registry],
  });
  readonly #backendSeconds = new Histogram({
    name: 'secrets_broker_backend_call_duration_seconds',
    help: 'Backend operation latency, retries included.',
    labelNames: ['backend', 'operation'],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly #backendRetries = new Counter({
    name: 'secrets_broker_backend_retries_total',
    help: 'Retries of backend operations after a transient error, by error code.',
    labelNames: ['backend', 'operation', 'code'],
    registers: [this.registry],
  });
  readonly #cache = new Counter({
    name: 'secrets_broker_cache_events_total',
    help: 'Read cache events: hit, miss, stale (served while the backend failed), evicted_<reason>.',
    labelNames: ['event'],
    registers: [this.registry],
  });
  readonly #lockWaitSeconds = new Histogram({
    name: 'secrets_broker_lock_wait_seconds',
    help: 'Time spent waiting for a secret lock, by whether it was acquired.',
    labelNames: ['acquired'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly #lockTimeouts = new Counter({
    name: 'secrets_broker_lock_timeouts_total',
    help: 'Writes refused with 423 because a lock stayed held past lock.waitMs.',
    registers: [this.registry],
  });
  readonly #watches = new Gauge({
    name: 'secrets_broker_watches',
    help: 'Watches (GET with Prefer: wait) held right now.',
    registers: [this.registry],
  });
  readonly #watchPolls = new Counter({
    name: 'secrets_broker_watch_polls_total',
    help: 'Backend polls of watched secrets, by outcome (ok or an error code).',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly #markerFailures = new Counter({
    name: 'secrets_broker_version_marker_failures_total',
    help: 'Version markers not written after a write: brokers sharing the lock volume see that write late.',
    registers: [this.registry],
  });

  /** listener -> method -> route -> status -> series; every level is small and fixed by the routes. */
  readonly #requestSeries = new Map<string, Map<string, Map<string, Map<number, RequestSeries>>>>();
  readonly #cacheHit = this.#cache.labels('hit');
  readonly #cacheMiss = this.#cache.labels('miss');
  readonly #cacheStale = this.#cache.labels('stale');

  constructor(readonly backend: string) {
    collectDefaultMetrics({ register: this.registry, prefix: 'secrets_broker_' });
  }

  /**
   * Counts one request. prom-client hashes a label object on every `inc`; this runs on every
   * request, so each series' children are bound once and then found through plain map look-ups.
   */
  request(listener: string, method: string, route: string, status: number, seconds: number): void {
    const series = this.#series(listener, method, route, status);
    series.count.inc();
    series.seconds.observe(seconds);
  }

  #series(listener: string, method: string, route: string, status: number): RequestSeries {
    const byMethod = child(this.#requestSeries, listener, () => new Map());
    const byRoute = child(byMethod, method, () => new Map());
    const byStatus = child(byRoute, route, () => new Map());
    return child(byStatus, status, () => ({
      count: this.#requests.labels(listener, method, route, String(status)),
      seconds: this.#requestSeconds.labels(method, route),
    }));
  }

  /** Feeds broker events into the metrics. */
  get brokerObserver(): BrokerObserver {
    return {
      backendCall: (operation, outcome, seconds) => {
        this.#backendCalls.inc({ backend: this.backend, operation, outcome });
        this.#backendSeconds.observe({ backend: this.backend, operation }, seconds);
      },
      backendRetry: (operation, err) => {
        const code = err instanceof SecretError ? err.code : 'internal';
        this.#backendRetries.inc({ backend: this.backend, operation, code });
      },
      markerFailed: () => this.#markerFailures.inc(),
    };
  }

  get cacheEvents(): CacheEvents {
    return {
      hit: () => this.#cacheHit.inc(),
      miss: () => this.#cacheMiss.inc(),
      stale: () => this.#cacheStale.inc(),
      evicted: (reason) => this.#cache.inc({ event: `evicted_${reason}` }),
    };
  }

  get watchEvents(): WatchEvents {
    return {
      watches: (active) => this.#watches.set(active),
      poll: (outcome) => this.#watchPolls.inc({ outcome }),
    };
  }

  lockAcquired(waitedMs: number, acquired: boolean): void {
    this.#lockWaitSeconds.observe({ acquired: String(acquired) }, waitedMs / 1000);
    if (!acquired) this.#lockTimeouts.inc();
  }
}

function child<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}
