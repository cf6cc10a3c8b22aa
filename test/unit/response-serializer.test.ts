import { Type } from '@sinclair/typebox';
import t from 'tap';
import { lazySerializerCompiler } from '../../agent/http/response-serializer.js';

const route = { method: 'GET', url: '/x', httpStatus: '200' };

t.test('a response serializer writes only what its schema declares, as Fastify’s default does', async (t) => {
  // Prepare
  const schema = Type.Object({ id: Type.String(), count: Type.Integer() });
  const serialize = lazySerializerCompiler({ schema, ...route });

  // Act
  const text = serialize({ id: 'a', count: 2, value: 'not declared' });

  // Assess
  t.same(JSON.parse(text), { id: 'a', count: 2 }, 'an undeclared field is left out');
});

t.test('a response serializer is built when first used, not when its route is registered', async (t) => {
  // Prepare: a schema fast-json-stringify refuses to build.
  const schema = { type: 'object', properties: { a: { $ref: '#/definitions/missing' } } };

  // Act
  const serialize = lazySerializerCompiler({ schema, ...route });

  // Assess
  t.type(serialize, 'function', 'registering it built nothing');
  t.throws(() => serialize({ a: 1 }), 'the first use builds it');
});
