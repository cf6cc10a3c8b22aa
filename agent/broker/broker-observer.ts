/**
 * What the broker reports about its work, as plain callbacks: the HTTP edge turns them into
 * Prometheus metrics, tests count them, and the broker never imports a metrics library.
 */
export interface BrokerObserver {
  /** One finished backend operation (retries included) with its outcome: `ok` or an error code. */
  backendCall?(operation: string, outcome: string, seconds: number): void;
  /** One retry of a backend operation, with the transient error that caused it. */
  backendRetry?(operation: string, err: unknown): void;
  /** A version marker could not be written after a write: other brokers see it late (at a poll or TTL end). */
  markerFailed?(err: unknown): void;
}
