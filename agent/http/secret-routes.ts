/**
 * The secrets API: `POST /secrets`, `GET|PUT|DELETE /secrets/{id}`, `GET /secrets`, and the custom
 * methods of secret-method-routes.ts. Routes only
 * translate HTTP to broker calls and back (ETag, If-Match, cache headers); every rule lives in
 * the broker.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SecretMetadata } from '../backends/contract.js';
import { SecretError } from '../backends/errors.js';
import { NotModified, type SecretBroker, type VersionCondition } from '../broker/secret-broker.js';
import {
  CreateBodySchema,
  DeleteQuerySchema,
  ListQuerySchema,
  ListResponseSchema,
  NotModifiedResponse,
  problemResponses,
  ReadQuerySchema,
  SecretSchema,
  UpdateBodySchema,
  WrittenSecretSchema,
} from './schemas.js';
import { secretMethodRoutes } from './secret-method-routes.js';

const READ_DESCRIPTION =
  '`If-None-Match: "<version>"` makes the read conditional: 304 with the `ETag` when that is the current version. ' +
  'Adding `Prefer: wait=N` (N 1-300, RFC 7240) makes it a watch: the request is held until the version differs ' +
  '(200 with the new value and `Preference-Applied: wait`) or N seconds pass (304). Other preferences are ignored; ' +
  'a malformed `wait` is 400 `invalid_request`; beyond the configured number of watches held at once it is 503 ' +
  '`backend_unavailable` with `Retry-After`. A shutting-down broker answers its pending watches 304.';

/** The wildcard route that carries ids with slashes; OpenAPI shows it as `/secrets/{id}`. */
export const SECRET_ROUTE = '/secrets/*';

export async function secretRoutes(fastify: FastifyInstance, options: { broker: SecretBroker }): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { broker } = options;
  const tags = ['secrets'];

  app.post(
    '/secrets',
    {
      schema: {
        tags,
        summary: 'Create a secret',
        body: CreateBodySchema,
        response: { 201: WrittenSecretSchema, ...problemResponses(400, 401, 403, 409, 413, 423, 429, 502, 503, 504) },
      },
    },
    async (request, reply) => {
      const created = await broker.create(request.body);
      reply.header('location', secretLocation(created.id));
      return sendMetadata(reply.code(201), created);
    },
  );

  app.get(
    SECRET_ROUTE,
    {
      schema: {
        tags,
        summary: 'Read a secret',
        description: READ_DESCRIPTION,
        querystring: ReadQuerySchema,
        response: {
          200: SecretSchema,
          304: NotModifiedResponse,
          ...problemResponses(400, 401, 403, 404, 429, 502, 503, 504),
        },
      },
    },
    async (request, reply) => {
      const condition = readCondition(request.headers['if-none-match']);
      const cacheControl = request.headers['cache-control'];
      const id = idOf(request);
      const options = {
        ...(request.query.version ? { version: request.query.version } : {}),
        bypassCache: cacheControl !== undefined && NO_CACHE.test(cacheControl),
      };
      const waitSeconds = preferredWait(request.headers.prefer);
      const watched = waitSeconds !== undefined && condition !== undefined && 'version' in condition;
      let read: Awaited<ReturnType<SecretBroker['read']>> | NotModified;
      if (watched && options.version === undefined) {
        read = await broker.watch(id, condition.version, waitSeconds * 1000, callerGone(reply));
        reply.header('preference-applied', 'wait');
      } else {
        read = condition ? await broker.readIfNoneMatch(id, condition, options) : await broker.read(id, options);
      }
      if (read instanceof NotModified) {
        reply.headers({
          etag: read.etag,
          'x-cache': read.cache,
          age: String(read.ageSeconds),
          'cache-control': 'no-store',
        });
        return reply.code(304).send();
      }
      reply.headers({
        etag: read.response.etag,
        'x-cache': read.cache,
        age: String(read.ageSeconds),
        'cache-control': 'no-store',
        // A Buffer with its content type set is sent as it is: the body was rendered when it was cached.
        'content-type': 'application/json; charset=utf-8',
      });
      // The 200 schema describes this body; it was rendered to that shape when it was cached.
      return reply.send(read.response.body as never);
    },
  );

  app.put(
    SECRET_ROUTE,
    {
      schema: {
        tags,
        summary: 'Replace the value of a secret',
        body: UpdateBodySchema,
        response: {
          200: WrittenSecretSchema,
          ...problemResponses(400, 401, 403, 404, 412, 413, 423, 429, 502, 503, 504),
        },
      },
    },
    async (request, reply) => {
      const ifMatch = writePrecondition(request);
      const updated = await broker.update(idOf(request), { ...request.body, ...(ifMatch ? { ifMatch } : {}) });
      return sendMetadata(reply, updated);
    },
  );

  app.delete(
    SECRET_ROUTE,
    {
      schema: {
        tags,
        summary: 'Delete a secret (recoverable unless force=true)',
        querystring: DeleteQuerySchema,
        response: { 204: { type: 'null' }, ...problemResponses(400, 401, 403, 404, 412, 423, 429, 502, 503, 504) },
      },
    },
    async (request, reply) => {
      const ifMatch = writePrecondition(request);
      await broker.remove(idOf(request), { force: request.query.force === true, ...(ifMatch ? { ifMatch } : {}) });
      return reply.code(204).send();
    },
  );

  app.get(
    '/secrets',
    {
      schema: {
        tags,
        summary: 'List secret metadata (never values)',
        querystring: ListQuerySchema,
        response: { 200: ListResponseSchema, ...problemResponses(400, 401, 403, 429, 502, 503, 504) },
      },
    },
    async (request) => broker.list(request.query),
  );

  await app.register(secretMethodRoutes, { broker });
}

function sendMetadata(reply: FastifyReply, metadata: SecretMetadata): SecretMetadata {
  reply.header('etag', etag(metadata.version));
  return metadata;
}

/** The id from the wildcard; the router has already percent-decoded it, so `%2F` is a slash. */
function idOf(request: FastifyRequest): string {
  return (request.params as Record<string, string>)['*'] ?? '';
}

export function etag(version: string): string {
  return `"${version}"`;
}

/** `Prefer: wait=N` bounds (RFC 7240 leaves them to the server): long enough for a watch, short of proxies' idle cuts. */
export const MAX_WAIT_SECONDS = 300;

/**
 * The `wait` preference of a `Prefer` header, in seconds. Other preferences are ignored, as RFC
 * 7240 asks; a `wait` that is not a whole number of 1 to 300 seconds is refused rather than
 * ignored, since the caller would otherwise get an answer at once and poll in a tight loop.
 */
export function preferredWait(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return undefined;
  const preferences = (Array.isArray(header) ? header.join(',') : header).split(',');
  for (const preference of preferences) {
    const [name, ...rest] = (preference.split(';')[0] ?? '').split('=');
    if (name?.trim().toLowerCase() !== 'wait') continue;
    const text = rest
      .join('=')
      .trim()
      .replace(/^"(.*)"$/, '$1');
    const seconds = /^\d{1,3}$/.test(text) ? Number(text) : Number.NaN;
    if (!(seconds >= 1 && seconds <= MAX_WAIT_SECONDS)) {
      throw new SecretError('invalid_request', `Prefer: wait takes a whole number of 1 to ${MAX_WAIT_SECONDS} seconds`);
    }
    return seconds;
  }
  return undefined;
}

/** Aborts when the caller goes away before its answer: a held watch is then let go at once. */
function callerGone(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}

/** A `Cache-Control` that asks for a fresh answer. */
const NO_CACHE = /(^|,)\s*no-cache\s*(,|$)/i;

/** One quoted, non-empty version, optionally weak. */
const QUOTED_VERSION = /^(?:W\/)?"([^"]+)"$/;

/** The If-Match of a write; an If-None-Match is only checked for form (writes do not use it). */
function writePrecondition(request: FastifyRequest): string | undefined {
  parsePrecondition(request.headers['if-none-match'], 'If-None-Match');
  return parsePrecondition(request.headers['if-match'], 'If-Match');
}

/** The If-None-Match of a read: `*` matches any existing version; strict like every precondition. */
function readCondition(header: string | undefined): VersionCondition | undefined {
  if (header === undefined) return undefined;
  if (header.trim() === '*') return { any: true };
  const version = parsePrecondition(header, 'If-None-Match');
  return version === undefined ? undefined : { version };
}

/**
 * `"v"` (or `W/"v"`) -> `v`; `*` and absence mean no condition. Anything else, `""` and an empty
 * header included, is refused: read as "no condition" it would turn a conditional write into an
 * unconditional one. Several tags are not supported.
 */
export function parsePrecondition(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  const text = header.trim();
  if (text === '*') return undefined;
  const match = QUOTED_VERSION.exec(text);
  if (!match) throw new SecretError('invalid_request', `${name} must be one quoted version, as sent in ETag, or *`);
  return match[1];
}

export function secretLocation(id: string): string {
  return `/secrets/${id.split('/').map(encodeURIComponent).join('/')}`;
}
