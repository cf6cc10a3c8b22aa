/**
 * Request validation with TypeBox's own checker. Bodies are checked exactly as sent: no type
 * coercion, so `"id": false` is refused instead of silently becoming "false". Query strings arrive
 * as text and are converted strictly first: an integer field takes only digits, a boolean only
 * `true` or `false` (looser converters turn `limit=true` into 1).
 */
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { FastifySchemaCompiler } from 'fastify';

export const strictValidatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  // Compiled on first use: a broker's start-up should not pay for routes it may never serve.
  let checker: ReturnType<typeof TypeCompiler.Compile> | undefined;
  return (input: unknown) => {
    checker ??= TypeCompiler.Compile(schema);
    const value = httpPart === 'body' ? input : convertText(schema, input);
    if (checker.Check(value)) return { value };
    const error = [...checker.Errors(value)].map((e) => ({ message: e.message, instancePath: e.path }));
    return { error: error as never };
  };
};

function convertText(schema: TSchema, input: unknown): unknown {
  if (typeof input !== 'object' || input === null || !schema.properties) return input;
  const converted: Record<string, unknown> = { ...(input as Record<string, unknown>) };
  for (const [key, property] of Object.entries(schema.properties as Record<string, TSchema>)) {
    const text = converted[key];
    if (typeof text !== 'string') continue;
    if ((property.type === 'integer' || property.type === 'number') && /^-?\d+$/.test(text))
      converted[key] = Number(text);
    else if (property.type === 'boolean' && (text === 'true' || text === 'false')) converted[key] = text === 'true';
  }
  return converted;
}
