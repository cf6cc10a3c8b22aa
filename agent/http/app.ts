/**
 * Fastify app factories. They build and return an app; they never listen (listeners.ts does), so
 * tests drive the same app through `app.inject`. One API app serves the Unix socket and loopback
 * TCP alike (its routes and schemas are compiled once); the optional health listener gets a
 * smaller, open one.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { SecretError } from '../backends/errors.js';
import type { SecretBroker } from '../broker/secret-broker.js';
import type { BrokerMetrics } from '../observability/broker-metrics.js';
import type { RenderProgress } from '../render/secret-files.js';
import { cachedReadLane } from './cached-read-lane.js';
import { callerAuthHook } from './caller-auth.js';
import { useJsonBodyParser } from './json-body.js';
import { answerClientError, checkingInterval, listenerOf } from './listeners.js';
import { opsRoutes } from './ops-routes.js';
import { sendMethodNotAllowed, sendProblem } from './problem.js';
import { strictValidatorCompiler } from './request-validator.js';
import { lazySerializerCompiler } from './response-serializer.js';
import { secretRoutes } from './secret-routes.js';

/** docs/design.md: a request body over 128 KiB is 413 before it is parsed. */
export const BODY_LIMIT_BYTES = 128 * 1024;
/** How long a request (headers and body) may take to arrive, unless configured otherwise. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** The OpenAPI document `npm run build` writes beside the compiled agent (see api-document.ts). */
export const OPENAPI_FILE = fileURLToPath(new URL('../openapi.json', import.meta.url));

export interface AppOptions {
  broker: SecretBroker;
  metrics: BrokerMetrics;
  logger: FastifyBaseLogger;
  /** Metrics label of requests on the app's own server and `inject`: `socket`, `tcp` or `health`. */
  listener: string;
  /** Bound on receiving one request, headers and body; a slower request is cut with 408. */
  requestTimeoutMs?: number;
  /** Rendered files, which /readyz waits for. */
  renders?: RenderProgress;
}

export interface ApiAppOptions extends AppOptions {
  /** The caller bearer token every route but /healthz and /readyz requires. */
  token: string;
  /** The built OpenAPI document served at /openapi.json; the build's own by default. */
  openapiFile?: string;
}

export interface ApiRoutesOptions {
  broker: SecretBroker;
  metrics: BrokerMetrics;
  openapiFile: string;
  renders?: RenderProgress;
}

/** Every route of the API listeners: the served app and the build-time document register the same. */
export async function apiRoutes(app: FastifyInstance, options: ApiRoutesOptions): Promise<void> {
  const { broker, metrics, openapiFile, renders } = options;
  await app.register(opsRoutes, { broker, metrics, openapiFile, ...(renders ? { renders } : {}) });
  await app.register(secretRoutes, { broker: options.broker });
}

export async function buildApiApp(options: ApiAppOptions): Promise<FastifyInstance> {
  // Cached reads are answered ahead of the app's pipeline (cached-read-lane.ts); the rest reach it.
  const app = baseApp(options, (handler, isClosing) => cachedReadLane({ ...options, isClosing }, handler));
  app.addHook('onRequest', callerAuthHook(options.token));
  const { broker, metrics, renders } = options;
  const openapiFile = options.openapiFile ?? OPENAPI_FILE;
  await app.register(apiRoutes, { broker, metrics, openapiFile, ...(renders ? { renders } : {}) });
  return app;
}

export async function buildHealthApp(options: AppOptions): Promise<FastifyInstance> {
  const app = baseApp(options);
  const { broker, metrics, renders } = options;
  await app.register(opsRoutes, { broker, metrics, ...(renders ? { renders } : {}) });
  return app;
}

/** What the server runs for each request, given the app's own handler and whether the app is closing. */
type RequestHandling = (app: http.RequestListener, isClosing: () => boolean) => http.RequestListener;

function baseApp(options: AppOptions, handling: RequestHandling = (app) => app): FastifyInstance {
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  let closing = false;
  const app = Fastify({
    // The server Fastify would make, with `handling` around the app's handler.
    serverFactory: (handler, settings) => {
      const server = http.createServer(
        settings.http ?? {},
        handling(handler as http.RequestListener, () => closing),
      );
      server.keepAliveTimeout = settings.keepAliveTimeout as number;
      server.requestTimeout = settings.requestTimeout as number;
      server.setTimeout(settings.connectionTimeout as number);
      return server;
    },
    loggerInstance: options.logger,
    // Per-request lines would put the hot path above debug; onResponse logs at debug instead.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    bodyLimit: BODY_LIMIT_BYTES,
    genReqId: () => randomUUID(),
    // Every request would otherwise get a child logger, and with redaction on, building one costs
    // more than serving a cached read; the few request log lines name their requestId themselves.
    childLoggerFactory: (logger) => logger,
    requestIdHeader: false,
    // Fastify's own closing answer is plain JSON; the hook below answers problem+json instead.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    routerOptions: { maxParamLength: 2048 },
    requestTimeout: requestTimeoutMs,
    // Measured: with requestTimeout alone, a body stalled after complete headers was cut only at
    // headersTimeout (60 s by default); both bound the whole request.
    http: {
      headersTimeout: requestTimeoutMs,
      requestTimeout: requestTimeoutMs,
      connectionsCheckingInterval: checkingInterval(requestTimeoutMs),
    },
    clientErrorHandler: answerClientError,
    // A malformed percent-encoding in the path, for one, is answered here; problem+json like any error.
    frameworkErrors: (err, request, reply) => sendProblem(request, reply, err),
    // The broker's own compilers from the start: Fastify otherwise loads its Ajv-based defaults (Ajv
    // and fast-json-stringify, a large share of its start-up) only for them to be replaced.
    schemaController: {
      compilersFactory: {
        buildValidator: () => strictValidatorCompiler as never,
        buildSerializer: () => lazySerializerCompiler as never,
      },
    },
  });
  useJsonBodyParser(app);
  app.setErrorHandler((err, request, reply) => sendProblem(request, reply, err));
  const routeMethods = new Map<string, string[]>();
  app.addHook('onRoute', (route) => {
    const url = routeLabel(route.url);
    routeMethods.set(url, (routeMethods.get(url) ?? []).concat(route.method));
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] as string;
    const allowed = allowedMethods(routeMethods, path);
    if (allowed.length > 0) return sendMethodNotAllowed(request, reply, allowed);
    return sendProblem(request, reply, new SecretError('not_found', `no route ${request.method} ${path}`));
  });
  // Checked once: building the log object for a line pino would drop is wasted work on every request.
  const logRequests = options.logger.level === 'debug' || options.logger.level === 'trace';
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  // Callback-style hooks: on the hot path an async hook costs a promise and a microtask each.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    if (closing) {
      // A request on a kept-alive connection while draining: the next attempt reaches the replacement.
      done(new SecretError('backend_unavailable', 'the broker is shutting down; retry'));
      return;
    }
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    const route = routeLabel(request.routeOptions.url);
    const listener = listenerOf(request.raw.socket) ?? options.listener;
    options.metrics.request(listener, request.method, route, reply.statusCode, reply.elapsedTime / 1000);
    if (logRequests) {
      request.log.debug(
        { requestId: request.id, method: request.method, route, status: reply.statusCode },
        'request completed',
      );
    }
    done();
  });
  return app;
}

/** The methods registered for `path`, matching static routes exactly and `/prefix/*` by prefix. */
function allowedMethods(routeMethods: Map<string, string[]>, path: string): string[] {
  const allowed = new Set<string>();
  for (const [url, methods] of routeMethods) {
    const matches = url.endsWith('*') ? path.startsWith(url.slice(0, -1)) : url === path;
    if (matches) for (const method of methods) allowed.add(method);
  }
  return [...allowed];
}

/**
 * A route as callers, metrics and logs name it: the router writes a literal `:` as `::`
 * (BATCH_GET_ROUTE). A request no route matched is `unmatched`.
 */
function routeLabel(url: string | undefined): string {
  return url === undefined ? 'unmatched' : url.replaceAll('::', ':');
}
