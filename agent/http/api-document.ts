/**
 * The OpenAPI document of the API listeners. It is produced once, at build time
 * (`scripts/write-openapi.mjs`, run by `npm run build`), by registering the very routes the broker
 * serves with @fastify/swagger; the broker serves the written file. So neither swagger nor its YAML
 * parser is ever loaded by `serve`, and the document cannot drift from the routes.
 */
import Fastify, { type FastifyPluginAsync } from 'fastify';
import type { SecretBroker } from '../broker/secret-broker.js';
import type { BrokerMetrics } from '../observability/broker-metrics.js';
import { apiRoutes, OPENAPI_FILE } from './app.js';
import { strictValidatorCompiler } from './request-validator.js';
import { documentedSchema, ID_PATTERN } from './schemas.js';
import { SECRET_ROUTE } from './secret-routes.js';

/** The wildcard route carries ids with slashes; the document names it `/secrets/{id}`. */
function describeRoute({ schema, url }: { schema: Record<string, unknown>; url: string }) {
  const documented = documentedSchema(schema) as Record<string, unknown>;
  if (url !== SECRET_ROUTE) return { schema: documented, url };
  const id = {
    type: 'string',
    maxLength: 512,
    pattern: ID_PATTERN,
    description: 'The secret id; may contain slashes.',
  };
  const params = { type: 'object', properties: { id }, required: ['id'] };
  return { schema: { ...documented, params }, url: '/secrets/{id}' };
}

/** Builds the document with the given swagger plugin (a build-time dependency only). */
export interface SwaggerOptions {
  openapi: Record<string, unknown>;
  transform: typeof describeRoute;
}

export async function buildApiDocument(swagger: FastifyPluginAsync<SwaggerOptions>, version: string): Promise<unknown> {
  const app = Fastify({ logger: false });
  app.setValidatorCompiler(strictValidatorCompiler);
  await app.register(swagger, {
    openapi: {
      // 3.1: its schemas are JSON Schema, so the tag-key bounds (propertyNames) can be stated.
      openapi: '3.1.0',
      info: {
        title: 'secrets-broker',
        version,
        description: 'One small, safe secrets API for the containers of a pod.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: describeRoute,
  });
  // Handlers never run here: the document needs only the routes' schemas.
  const unused = {} as SecretBroker & BrokerMetrics;
  await app.register(apiRoutes, { broker: unused, metrics: unused, openapiFile: OPENAPI_FILE });
  await app.ready();
  const document = (app as unknown as { swagger(): unknown }).swagger();
  await app.close();
  return document;
}
