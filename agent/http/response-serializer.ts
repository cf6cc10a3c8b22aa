/**
 * Response serializers compiled on first use instead of at start-up. Fastify compiles one
 * fast-json-stringify function per route and status before the app is ready; most are for errors
 * a broker may never send, and compiling them all was the largest single cost of its start-up
 * (profiled: about a sixth of the CPU from spawn to ready). The serializer is the one Fastify uses
 * by default, built the same way, only later.
 */
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';
import type { FastifySerializerCompiler } from 'fastify';

type Serialize = (data: unknown) => string;

const buildSerializer = SerializerSelector()({}, {}) as (route: { schema: unknown }) => Serialize;

export const lazySerializerCompiler: FastifySerializerCompiler<unknown> = (route) => {
  let serialize: Serialize | undefined;
  return (data: unknown) => {
    serialize ??= buildSerializer(route);
    return serialize(data);
  };
};
