/**
 * Fastify app factories. They build and return an app; they never listen (listeners.ts does), so
 * tests drive the same app through `app.inject`. The socket and the TCP listener each get one API
 * app over the same broker; the optional health listener gets a smaller, open one.
 */
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { SecretError } from '../backends/errors.js';
import type { SecretBroker } from '../broker/secret-broker.js';
import { callerAuthHook } from './caller-auth.js';
import type { BrokerMetrics } from './metrics.js';
import { opsRoutes } from './ops-routes.js';
import { STATUS_BY_CODE, sendProblem } from './problem.js';
import { strictValidatorCompiler } from './request-validator.js';
import { SECRET_ROUTE, secretRoutes } from './secret-routes.js';

/** DESIGN.md: a request body over 128 KiB is 413 before it is parsed. */
export const BODY_LIMIT_BYTES = 128 * 1024;

export interface AppOptions {
  broker: SecretBroker;
  metrics: BrokerMetrics;
  logger: FastifyBaseLogger;
  /** Label of the listener in metrics: `socket`, `tcp` or `health`. */
  listener: string;
}

export interface ApiAppOptions extends AppOptions {
  /** The caller bearer token every route but /healthz and /readyz requires. */
  token: string;
  version: string;
}

export async function buildApiApp(options: ApiAppOptions): Promise<FastifyInstance> {
  const app = baseApp(options);
  app.addHook('onRequest', callerAuthHook(options.token));
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'secrets-broker',
        version: options.version,
        description: 'One small, safe secrets API for the containers of a pod.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: ({ schema, url }) => {
      if (url !== SECRET_ROUTE) return { schema, url };
      const id = { type: 'string', pattern: '^[A-Za-z0-9_+=.@-]+(/[A-Za-z0-9_+=.@-]+)*$', maxLength: 512 };
      const params = { type: 'object', properties: { id }, required: ['id'] };
      return { schema: { ...schema, params }, url: '/secrets/{id}' };
    },
  });
  await app.register(opsRoutes, { broker: options.broker, metrics: options.metrics, openapi: true });
  await app.register(secretRoutes, { broker: options.broker });
  return app;
}

export async function buildHealthApp(options: AppOptions): Promise<FastifyInstance> {
  const app = baseApp(options);
  await app.register(opsRoutes, { broker: options.broker, metrics: options.metrics, openapi: false });
  return app;
}

/**
 * Requests Node's HTTP parser refuses (headers or request line too large, malformed) never reach a
 * route; they still get a problem+json answer rather than a bare error.
 */
function answerMalformedRequest(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed || !socket.writable) return;
  const body = JSON.stringify({
    type: 'urn:secrets-broker:problem:invalid_request',
    title: STATUS_BY_CODE.invalid_request.title,
    status: 400,
    detail: 'malformed request, or request line and headers too large',
    code: 'invalid_request',
    requestId: randomUUID(),
  });
  socket.end(
    `HTTP/1.1 400 Bad Request\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

function baseApp(options: AppOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.logger,
    // Per-request lines would put the hot path above debug; onResponse logs at debug instead.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    bodyLimit: BODY_LIMIT_BYTES,
    genReqId: () => randomUUID(),
    // Every request would otherwise get a child logger, and with redaction on, building one costs
    // more than serving a cached read; the few request log lines name their requestId themselves.
    childLoggerFactory: (logger) => logger,
    requestIdHeader: false,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { maxParamLength: 2048 },
    clientErrorHandler: answerMalformedRequest,
  });
  app.setValidatorCompiler(strictValidatorCompiler);
  app.setErrorHandler((err, request, reply) => sendProblem(request, reply, err));
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      request,
      reply,
      new SecretError('not_found', `no route ${request.method} ${request.url.split('?')[0]}`),
    ),
  );
  // Checked once: building the log object for a line pino would drop is wasted work on every request.
  const logRequests = options.logger.level === 'debug' || options.logger.level === 'trace';
  // Callback-style hooks: on the hot path an async hook costs a promise and a microtask each.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    options.metrics.request(options.listener, request.method, route, reply.statusCode, reply.elapsedTime / 1000);
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
