/**
 * The JSON body parser. Fastify's own answers every refusal with "Body is not valid JSON", also
 * for valid JSON carrying a `__proto__` key; this one says which rule the body broke. No message
 * quotes the body: it may hold a secret value.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SecretError } from '../backends/errors.js';

/** Keys that could reach an object's prototype if a body were ever merged into another object. */
function refuseProtoKeys(this: unknown, key: string, value: unknown): unknown {
  if (key === '__proto__') throw new SecretError('invalid_request', 'body must not contain the key __proto__');
  if (key === 'constructor' && typeof value === 'object' && value !== null && 'prototype' in value) {
    throw new SecretError('invalid_request', 'body must not contain the key constructor.prototype');
  }
  return value;
}

export function parseJsonBody(
  _request: FastifyRequest,
  body: string,
  done: (err: Error | null, parsed?: unknown) => void,
): void {
  if (body.length === 0) {
    done(new SecretError('invalid_request', 'body is empty; a JSON object is required'));
    return;
  }
  let parsed: unknown;
  try {
    // The reviver runs only for the few small bodies of writes; reads carry none.
    parsed = JSON.parse(body, refuseProtoKeys);
  } catch (err) {
    done(err instanceof SecretError ? err : new SecretError('invalid_request', 'body is not valid JSON'));
    return;
  }
  done(null, parsed);
}

/** Replaces Fastify's JSON parser; the body limit still applies before parsing. */
export function useJsonBodyParser(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, parseJsonBody);
}
