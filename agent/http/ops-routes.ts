/**
 * The operational routes: liveness, readiness, metrics and the OpenAPI document. The API listeners
 * serve all four (metrics and OpenAPI behind the token); the health listener serves the first three
 * openly for kubelet probes and Prometheus, which reach the pod IP rather than loopback.
 */
import { readFile } from 'node:fs/promises';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { SecretError } from '../backends/errors.js';
import type { SecretBroker } from '../broker/secret-broker.js';
import type { BrokerMetrics } from '../observability/broker-metrics.js';
import type { RenderProgress } from '../render/secret-files.js';
import { problemResponses } from './schemas.js';

export interface OpsRoutesOptions {
  broker: SecretBroker;
  metrics: BrokerMetrics;
  /** Rendered files: not ready until each has been written once. */
  renders?: RenderProgress;
  /** The built OpenAPI document, served at /openapi.json (API listeners only). */
  openapiFile?: string;
}

const Status = Type.Object({ status: Type.String() }, { additionalProperties: false });

/**
 * The probes' answers (a status, or a problem the broker built itself) need no compiled serializer:
 * the first probe of a starting pod then does not wait for fast-json-stringify to load and compile.
 */
const plainJson = () => (data: unknown) => JSON.stringify(data);

export async function opsRoutes(app: FastifyInstance, options: OpsRoutesOptions): Promise<void> {
  const { broker, metrics, renders } = options;
  const tags = ['operations'];

  app.get(
    '/healthz',
    {
      schema: { tags, summary: 'Liveness', response: { 200: Status, ...problemResponses() } },
      serializerCompiler: plainJson,
    },
    async () => ({
      status: 'ok',
    }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags,
        summary: 'Backend authenticated and reachable, every rendered file written',
        response: { 200: Status, ...problemResponses(503) },
      },
      serializerCompiler: plainJson,
    },
    async () => {
      if (renders !== undefined && renders.pending > 0) {
        // Counts only: this route is open on the pod IP. The log names the ids that are missing.
        throw new SecretError(
          'backend_unavailable',
          `${renders.pending} of ${renders.total} rendered secret files not written yet`,
        );
      }
      try {
        await broker.ready();
      } catch (err) {
        // Whatever the reason (bad credentials, sealed Vault), a probe only needs "not ready".
        const reason = err instanceof SecretError ? err.message : 'unexpected error';
        throw new SecretError('backend_unavailable', `backend is not ready: ${reason}`, { cause: err });
      }
      return { status: 'ready' };
    },
  );

  const text = { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } };
  const metricsSchema = { tags, summary: 'Prometheus metrics', response: { 200: text, ...problemResponses() } };
  app.get('/metrics', { schema: metricsSchema }, async (_request, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  const { openapiFile } = options;
  if (openapiFile) {
    // Read at the first request, not at start: most sidecars are never asked for it.
    let document: Promise<string> | undefined;
    app.get(
      '/openapi.json',
      { schema: { tags, summary: 'This document', hide: true, response: problemResponses() } },
      async (_request, reply) => {
        document ??= readFile(openapiFile, 'utf8');
        reply.type('application/json');
        return document.catch((err: unknown) => {
          document = undefined;
          throw new Error(`cannot read the OpenAPI document ${openapiFile}; npm run build writes it`, { cause: err });
        });
      },
    );
  }
}
