/**
 * The cached-read lane: a plain `GET /secrets/{id}` that a fresh cache entry can answer is served
 * here, ahead of Fastify's pipeline, as one lookup, one decrypt and one write. Every other request,
 * and every one the lane is not sure of (a query, a condition, a watch, a token in another spelling,
 * a miss), goes to the app unchanged, which answers it the full way.
 *
 * Why it exists: a cached read is the sidecar's most frequent request, and per read Fastify's request
 * and reply objects, hooks, promise chain and header handling cost several times the read itself
 * (docs/performance.md has the profile). The answer is the one the route gives, byte for byte but
 * for the request id and the date.
 */
import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import type { FastifyBaseLogger } from 'fastify';
import type { SecretBroker } from '../broker/secret-broker.js';
import type { BrokerMetrics } from '../observability/broker-metrics.js';
import { tokenCheck } from './caller-auth.js';
import { listenerOf } from './listeners.js';
import { SECRET_ROUTE } from './secret-routes.js';

const PATH_PREFIX = '/secrets/';

/** Headers that make a GET more than a plain cached read: the route handles them (or refuses them). */
const FULL_WAY_HEADERS = [
  'if-none-match',
  'prefer',
  'cache-control',
  'x-forwarded-for',
  'content-length',
  'transfer-encoding',
] as const;

export interface CachedReadLaneOptions {
  broker: Pick<SecretBroker, 'cachedRead'>;
  metrics: BrokerMetrics;
  logger: FastifyBaseLogger;
  /** The caller bearer token, as the app's auth hook requires it. */
  token: string;
  /** Metrics label of requests on a server that did not label its connections. */
  listener: string;
  /** True once the app is closing: its own answer (503) is then the one to give. */
  isClosing(): boolean;
}

/** `app` with the lane in front of it. */
export function cachedReadLane(options: CachedReadLaneOptions, app: http.RequestListener): http.RequestListener {
  const { broker, metrics, logger } = options;
  const isCallerToken = tokenCheck(options.token);
  // Checked once, as the app does: building a log object for a line pino would drop is wasted work.
  const logRequests = logger.level === 'debug' || logger.level === 'trace';
  return (request, response) => {
    const started = performance.now();
    const id = plainReadId(request);
    const read =
      id !== undefined && !options.isClosing() && isCallerToken(request.headers.authorization)
        ? broker.cachedRead(id)
        : undefined;
    if (read === undefined) {
      app(request, response);
      return;
    }
    const requestId = randomUUID();
    const body = read.response.body;
    // The route's headers in the route's order; a flat list, so no header object is built per read.
    response.writeHead(200, [
      'x-request-id',
      requestId,
      'etag',
      read.response.etag,
      'x-cache',
      read.cache,
      'age',
      String(read.ageSeconds),
      'cache-control',
      'no-store',
      'content-type',
      'application/json; charset=utf-8',
      'content-length',
      String(body.length),
    ]);
    response.end(body);
    const listener = listenerOf(request.socket) ?? options.listener;
    metrics.request(listener, 'GET', SECRET_ROUTE, 200, (performance.now() - started) / 1000);
    if (logRequests) {
      logger.debug({ requestId, method: 'GET', route: SECRET_ROUTE, status: 200 }, 'request completed');
    }
  };
}

/**
 * The id of a `GET /secrets/{id}` with nothing but the token to consider; undefined otherwise. A
 * query or a percent-encoding is left to the router (neither character is allowed in an id, so the
 * broker refuses such an id here and the app decodes or parses the path itself).
 */
function plainReadId(request: http.IncomingMessage): string | undefined {
  const url = request.url;
  if (request.method !== 'GET' || url === undefined || !url.startsWith(PATH_PREFIX)) return undefined;
  const headers = request.headers;
  for (const name of FULL_WAY_HEADERS) if (headers[name] !== undefined) return undefined;
  return url.slice(PATH_PREFIX.length);
}
