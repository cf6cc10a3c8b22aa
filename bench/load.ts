/**
 * Closed-loop load with autocannon: a fixed number of keep-alive connections, each sending its
 * next request as soon as the previous answer arrived. A warm-up run (JIT, caches, connection
 * set-up) comes first and is not counted.
 */
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { baseUrl, connectOptions, type Endpoint } from './endpoints.js';

export interface LoadSpec {
  endpoint: Endpoint;
  method?: 'GET' | 'PUT';
  path: string;
  headers: Record<string, string>;
  body?: string;
  connections: number;
  warmupSeconds: number;
  seconds: number;
  /** Per request: a different path (e.g. rotating over many ids). */
  nextPath?: () => string;
  /** Per connection: e.g. a request chain that carries each answer's ETag into the next If-Match. */
  setupClient?: (client: autocannon.Client) => void;
  /** Runs between the warm-up and the measured run. */
  afterWarmup?: () => Promise<void>;
}

export interface LoadResult {
  requestsPerSecond: number;
  /** Latency percentiles of 2xx answers, from autocannon's per-response times at microsecond precision. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  ok: number;
  /** Answers that were not 2xx; a valid run has none. */
  notOk: number;
  /** Count of answers per HTTP status. */
  statuses: Record<string, number>;
  /** Connection errors and timeouts. */
  errors: number;
  seconds: number;
}

/** The warm-up run, then the measured one; only the latter is returned. */
export async function measure(spec: LoadSpec): Promise<LoadResult> {
  const [result] = await measureInterleaved([spec], 1);
  return result as LoadResult;
}

/**
 * Several loads compared with each other (the broker and its baseline): each warmed up, then the
 * measured time cut into `rounds` slices run in turn, A B A B ..., so that other work on the machine
 * falls on both sides alike rather than on whichever ran while it happened.
 */
export async function measureInterleaved(specs: LoadSpec[], rounds: number): Promise<LoadResult[]> {
  for (const spec of specs) if (spec.warmupSeconds > 0) await runInto(spec, spec.warmupSeconds, newTally());
  for (const spec of specs) await spec.afterWarmup?.();
  globalThis.gc?.();
  const tallies = specs.map(() => newTally());
  for (let round = 0; round < rounds; round++) {
    for (const [n, spec] of specs.entries()) await runInto(spec, spec.seconds / rounds, tallies[n] as Tally);
  }
  return tallies.map(resultOf);
}

/** What the slices of one load add up to. */
interface Tally {
  latencyMicros: RecordableHistogram;
  ok: number;
  notOk: number;
  errors: number;
  statuses: Record<string, number>;
  seconds: number;
}

function newTally(): Tally {
  return { latencyMicros: createHistogram(), ok: 0, notOk: 0, errors: 0, statuses: {}, seconds: 0 };
}

function resultOf(t: Tally): LoadResult {
  const { latencyMicros } = t;
  return {
    requestsPerSecond: t.seconds === 0 ? 0 : t.ok / t.seconds,
    p50Ms: latencyMicros.count === 0 ? Number.NaN : latencyMicros.percentile(50) / 1000,
    p99Ms: latencyMicros.count === 0 ? Number.NaN : latencyMicros.percentile(99) / 1000,
    maxMs: latencyMicros.count === 0 ? Number.NaN : latencyMicros.max / 1000,
    ok: t.ok,
    notOk: t.notOk,
    statuses: t.statuses,
    errors: t.errors,
    seconds: t.seconds,
  };
}

async function runInto(spec: LoadSpec, seconds: number, tally: Tally): Promise<void> {
  const request: autocannon.Request = {
    method: spec.method ?? 'GET',
    path: spec.path,
    headers: spec.headers,
    ...(spec.body === undefined ? {} : { body: spec.body }),
  };
  const { nextPath } = spec;
  if (nextPath) request.setupRequest = (req) => ({ ...req, path: nextPath() });
  const options: autocannon.Options = {
    url: baseUrl(spec.endpoint),
    ...connectOptions(spec.endpoint),
    connections: spec.connections,
    pipelining: 1,
    duration: seconds,
    timeout: 10,
    requests: [request],
    ...(spec.setupClient ? { setupClient: spec.setupClient } : {}),
  };
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(options, (err, done) => (err ? reject(err) : resolve(done)));
    instance.on('response', (_client, status, _bytes, responseTimeMs) => {
      if (status >= 200 && status < 300) tally.latencyMicros.record(Math.max(1, Math.round(responseTimeMs * 1000)));
    });
  });
  tally.ok += result['2xx'];
  tally.notOk += result.non2xx;
  tally.errors += result.errors;
  tally.seconds += result.duration;
  for (const [status, stats] of Object.entries(result.statusCodeStats ?? {})) {
    tally.statuses[status] = (tally.statuses[status] ?? 0) + (stats.count ?? 0);
  }
}

/** The value of a header in http-parser's flat `[name, value, name, value, ...]` list. */
export function rawHeader(raw: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i]?.toLowerCase() === name) return raw[i + 1];
  }
  return undefined;
}
