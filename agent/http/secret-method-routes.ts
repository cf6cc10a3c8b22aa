/**
 * Custom methods (a `:verb` suffix, as in Google's AIP-136): `POST /secrets/{id}:restore` and
 * `POST /secrets:batchGet`. `:` is outside the id alphabet, so a path such as `/secrets/a/b:restore`
 * can only mean the method `restore` on the id `a/b`; GET, PUT and DELETE refuse it as an invalid id.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SecretError } from '../backends/errors.js';
import type { BatchReadItem, SecretBroker } from '../broker/secret-broker.js';
import { STATUS_BY_CODE, sendMethodNotAllowed } from './problem.js';
import {
  BatchGetBodySchema,
  BatchGetResponseSchema,
  documentedSchema,
  problemResponses,
  RestoreResponseSchema,
  SecretPathParamsSchema,
} from './schemas.js';
import { etag, SECRET_ROUTE } from './secret-routes.js';

/** The methods a secret takes after `:`. */
const SECRET_METHODS = ['restore'] as const;
/** The HTTP methods `/secrets/{id}` itself takes (secret-routes.ts). */
const ID_METHODS = ['GET', 'HEAD', 'PUT', 'DELETE'];

/** `::` is the router's (and the OpenAPI generator's) escape for a literal `:`. */
export const BATCH_GET_ROUTE = '/secrets::batchGet';

export async function secretMethodRoutes(fastify: FastifyInstance, options: { broker: SecretBroker }): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { broker } = options;
  const tags = ['secrets'];

  app.post(
    SECRET_ROUTE,
    {
      schema: {
        tags,
        summary: 'Restore a secret: cancel its recoverable delete',
        description:
          'No body. 404 when the id is neither live nor pending deletion; 409 `already_exists` when it is live.',
        response: {
          200: RestoreResponseSchema,
          ...problemResponses(400, 401, 403, 404, 409, 423, 429, 502, 503, 504),
        },
      },
      config: {
        swaggerTransform: ({ schema }: { schema: object }) => ({
          schema: { ...(documentedSchema(schema) as object), params: SecretPathParamsSchema },
          url: '/secrets/{id}::restore',
        }),
      },
    },
    async (request, reply) => {
      const { id, method } = methodCall(request);
      // The id itself takes no POST: the methods it does take, as for any other method it lacks.
      if (method === undefined) return sendMethodNotAllowed(request, reply, ID_METHODS);
      if (method !== 'restore') throw unknownMethod(method);
      const restored = await broker.restore(id);
      reply.header('etag', etag(restored.version));
      return restored;
    },
  );

  app.post(
    BATCH_GET_ROUTE,
    {
      schema: {
        tags,
        summary: 'Read up to 20 secrets in one request',
        description:
          'Each id is answered from the cache when it can be, the rest together. An id that cannot be read goes into `errors` with the status and code a GET of it alone would have answered.',
        body: BatchGetBodySchema,
        response: { 200: BatchGetResponseSchema, ...problemResponses(400, 401, 403, 413) },
      },
    },
    async (request, reply) => {
      const items = await broker.readMany(request.body.ids);
      reply.headers({ 'cache-control': 'no-store', 'content-type': 'application/json; charset=utf-8' });
      // Cached bodies are already rendered JSON: the answer is spliced from them, never re-serialised.
      return reply.send(batchBody(request, items) as never);
    },
  );
}

/** `a/b:restore` -> id `a/b`, method `restore`; no `:` at all is a POST to the id itself. */
function methodCall(request: FastifyRequest): { id: string; method: string | undefined } {
  const path = (request.params as Record<string, string>)['*'] ?? '';
  const colon = path.indexOf(':');
  return colon < 0 ? { id: path, method: undefined } : { id: path.slice(0, colon), method: path.slice(colon + 1) };
}

function unknownMethod(method: string): SecretError {
  const known = SECRET_METHODS.map((m) => `:${m}`).join(', ');
  return new SecretError('invalid_request', `unknown method ':${method.slice(0, 64)}' on a secret; known: ${known}`);
}

function batchBody(request: FastifyRequest, items: BatchReadItem[]): Buffer {
  const bodies: Buffer[] = [];
  const errors: { id: string; status: number; code: string }[] = [];
  for (const item of items) {
    if ('read' in item) {
      if (bodies.length > 0) bodies.push(COMMA);
      bodies.push(item.read.response.body);
      continue;
    }
    const { status } = STATUS_BY_CODE[item.error.code];
    if (status >= 500) {
      request.log.warn(
        { code: item.error.code, reason: item.error.message, requestId: request.id },
        'batch read failed',
      );
    }
    errors.push({ id: item.id, status, code: item.error.code });
  }
  return Buffer.concat([SECRETS_OPEN, ...bodies, Buffer.from(`],"errors":${JSON.stringify(errors)}}`)]);
}

const SECRETS_OPEN = Buffer.from('{"secrets":[');
const COMMA = Buffer.from(',');
