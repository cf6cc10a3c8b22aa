/**
 * What the HTTP edge answers before a request reaches the broker: malformed paths, unsafe body keys,
 * a known path with another method, tag bounds, and the response schemas' serializers.
 */
import t, { type Test } from 'tap';
import { ListResponseSchema, ProblemSchema, SecretSchema, WrittenSecretSchema } from '../../agent/http/schemas.js';
import { MAX_TAG_KEY_LENGTH, MAX_TAGS } from '../../agent/secret-limits.js';
import { buildTestApp } from '../helpers/broker-app.js';
import { MemoryBackend } from '../helpers/memory-backend.js';

const json = (res: { body: string }) => JSON.parse(res.body);

async function setup(t: Test) {
  const backend = new MemoryBackend();
  const api = await buildTestApp(backend);
  t.teardown(() => api.close());
  return { backend, api };
}

t.test('a malformed percent-encoding in the path is 400 invalid_request problem+json', async (t) => {
  // Prepare
  const { api } = await setup(t);

  for (const url of ['/secrets/a%ZZ', '/secrets/%', '/secrets/a%2']) {
    // Act
    const res = await api.call({ method: 'GET', url });

    // Assess
    t.equal(res.statusCode, 400, `${url}: 400`);
    t.match(res.headers['content-type'], /^application\/problem\+json/, `${url}: problem+json`);
    t.equal(json(res).code, 'invalid_request', `${url}: invalid_request`);
    t.match(json(res).detail, /percent-encoding/, `${url}: the detail says what is wrong`);
  }
});

t.test('a body key __proto__ is refused with a detail that names it, and nothing is written', async (t) => {
  // Prepare
  const { backend, api } = await setup(t);
  const bodies = [
    '{"id":"app/x","value":"v","__proto__":{"admin":true}}',
    '{"id":"app/x","value":"v","tags":{"__proto__":"x"}}',
    '{"id":"app/x","value":"v","\\u005f_proto__":{}}',
  ];

  for (const payload of bodies) {
    // Act
    const res = await api.call({
      method: 'POST',
      url: '/secrets',
      headers: { 'content-type': 'application/json' },
      payload,
    });

    // Assess
    t.equal(res.statusCode, 400);
    t.equal(json(res).code, 'invalid_request');
    t.equal(json(res).detail, 'body must not contain the key __proto__');
  }
  t.equal(backend.calls.create ?? 0, 0, 'no create reached the backend');
});

t.test('invalid JSON is still refused without quoting the body', async (t) => {
  // Prepare
  const { api } = await setup(t);

  // Act
  const res = await api.call({
    method: 'POST',
    url: '/secrets',
    headers: { 'content-type': 'application/json' },
    payload: '{"id":"app/x","value":"hunter2-secret',
  });

  // Assess
  t.equal(res.statusCode, 400);
  t.equal(json(res).detail, 'body is not valid JSON');
  t.notMatch(res.body, /hunter2/);
});

t.test('a known path asked with another method is 405 with Allow, problem+json', async (t) => {
  // Prepare
  const { api } = await setup(t);
  const cases: [string, string, string[]][] = [
    ['PATCH', '/secrets/app/db', ['GET', 'PUT', 'DELETE']],
    ['DELETE', '/secrets', ['GET', 'POST']],
    ['POST', '/healthz', ['GET']],
  ];

  for (const [method, url, allowed] of cases) {
    // Act
    const res = await api.call({ method: method as 'GET', url });

    // Assess
    t.equal(res.statusCode, 405, `${method} ${url}: 405`);
    t.match(res.headers['content-type'], /^application\/problem\+json/);
    const allow = String(res.headers.allow).split(', ');
    for (const m of allowed) t.ok(allow.includes(m), `${method} ${url}: Allow names ${m}`);
    t.notOk(allow.includes(method), `${method} ${url}: Allow does not name ${method}`);
    t.match(json(res), { status: 405, code: 'invalid_request', title: 'Method not allowed' });
  }
  const unknown = await api.call({ method: 'GET', url: '/nowhere' });
  t.equal(unknown.statusCode, 404, 'an unknown path is still 404');
});

t.test('tags beyond 50, with an empty or long key or a long value, are 400 and nothing is written', async (t) => {
  // Prepare
  const { backend, api } = await setup(t);
  const many = Object.fromEntries(Array.from({ length: MAX_TAGS + 1 }, (_, i) => [`k${i}`, 'v']));
  const cases: Record<string, Record<string, string>> = {
    'too many': many,
    'empty key': { '': 'v' },
    'long key': { ['k'.repeat(MAX_TAG_KEY_LENGTH + 1)]: 'v' },
    'long value': { k: 'v'.repeat(257) },
  };

  for (const [why, tags] of Object.entries(cases)) {
    // Act
    const res = await api.call({ method: 'POST', url: '/secrets', body: { id: 'app/tagged', value: 'v', tags } });

    // Assess
    t.equal(res.statusCode, 400, `${why}: 400`);
    t.equal(json(res).code, 'invalid_request', `${why}: invalid_request`);
  }
  t.equal(backend.calls.create ?? 0, 0, 'no create reached the backend');
  const fifty = Object.fromEntries(Array.from({ length: MAX_TAGS }, (_, i) => [`k${i}`, 'v']));
  const ok = await api.call({ method: 'POST', url: '/secrets', body: { id: 'app/tagged', value: 'v', tags: fifty } });
  t.equal(ok.statusCode, 201, '50 tags are accepted');
});

t.test('an encoding outside utf8 and base64 is still refused', async (t) => {
  // Prepare
  const { api } = await setup(t);

  // Act
  const res = await api.call({ method: 'POST', url: '/secrets', body: { id: 'a', value: 'v', encoding: 'hex' } });

  // Assess
  t.equal(res.statusCode, 400);
  t.equal(json(res).code, 'invalid_request');
});

t.test('no response schema needs a validator to serialize (no anyOf, oneOf, allOf or if)', async (t) => {
  // Prepare: a union in a response schema makes the serializer run an Ajv validator per response
  const found: string[] = [];
  const walk = (schema: unknown, where: string): void => {
    if (typeof schema !== 'object' || schema === null) return;
    for (const [key, child] of Object.entries(schema)) {
      if (['anyOf', 'oneOf', 'allOf', 'if'].includes(key)) found.push(`${where}.${key}`);
      walk(child, `${where}.${key}`);
    }
  };

  // Act
  for (const [name, schema] of Object.entries({ SecretSchema, WrittenSecretSchema, ListResponseSchema, ProblemSchema }))
    walk(schema, name);

  // Assess
  t.same(found, []);
});
