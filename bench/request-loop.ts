/**
 * A few workers, each sending its next request once the previous answer arrived, over
 * keep-alive connections, recording every answer's latency, status and X-Cache. For the rows where
 * each answer matters (stale reads in an outage, lists that follow their cursor) rather than the
 * highest rate, which autocannon measures.
 */
import http from 'node:http';
import { createHistogram } from 'node:perf_hooks';
import { type Endpoint, type HttpAnswer, httpCall } from './endpoints.js';

export type LoopAnswer = HttpAnswer;

export interface LoopSpec {
  endpoint: Endpoint;
  headers: Record<string, string>;
  workers: number;
  seconds: number;
  /** A pause after each answer, as a client doing other work between reads; none by default. */
  thinkMs?: number;
  /** The path of worker `worker`'s next request. */
  nextPath: (worker: number) => string;
  /**
   * Sees each answer, e.g. to carry a list's `nextCursor` into that worker's next request; the worker
   * waits for what it returns (a client's pause after a refusal).
   */
  onAnswer?: (worker: number, answer: LoopAnswer) => Promise<void> | undefined;
}

export interface LoopResult {
  requests: number;
  requestsPerSecond: number;
  /** Latency of every answer, whatever its status. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  statuses: Record<string, number>;
  xCache: Record<string, number>;
  /** Requests that got no answer (connection error, 30 s timeout). */
  errors: number;
}

const REQUEST_TIMEOUT_MS = 30_000;

/** Runs the workers for `spec.seconds` (requests in flight then are let finish and counted). */
export async function requestLoop(spec: LoopSpec): Promise<LoopResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: spec.workers });
  const latencyMicros = createHistogram();
  const statuses: Record<string, number> = {};
  const xCache: Record<string, number> = {};
  let errors = 0;
  const started = performance.now();
  const endAt = started + spec.seconds * 1000;
  const worker = async (n: number) => {
    while (performance.now() < endAt) {
      const sent = performance.now();
      try {
        const answer = await httpCall(spec.endpoint, {
          path: spec.nextPath(n),
          headers: spec.headers,
          agent,
          timeoutMs: REQUEST_TIMEOUT_MS,
        });
        latencyMicros.record(Math.max(1, Math.round((performance.now() - sent) * 1000)));
        statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
        const cache = String(answer.headers['x-cache'] ?? 'none');
        xCache[cache] = (xCache[cache] ?? 0) + 1;
        await spec.onAnswer?.(n, answer);
        if (spec.thinkMs) await new Promise((resolve) => setTimeout(resolve, spec.thinkMs));
      } catch {
        errors++;
        // A listener that is gone would otherwise be hammered in a tight loop.
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: spec.workers }, (_, n) => worker(n)));
  } finally {
    agent.destroy();
  }
  const elapsedSeconds = (performance.now() - started) / 1000;
  const count = latencyMicros.count;
  return {
    requests: count,
    requestsPerSecond: count / elapsedSeconds,
    p50Ms: count === 0 ? Number.NaN : latencyMicros.percentile(50) / 1000,
    p99Ms: count === 0 ? Number.NaN : latencyMicros.percentile(99) / 1000,
    maxMs: count === 0 ? Number.NaN : latencyMicros.max / 1000,
    statuses,
    xCache,
    errors,
  };
}
