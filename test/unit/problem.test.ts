import { Writable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import t, { type Test } from 'tap';
import { SecretError, type SecretErrorCode } from '../../agent/backends/errors.js';
import { type Problem, STATUS_BY_CODE, sendProblem, toSecretError } from '../../agent/http/problem.js';
import { createLogger } from '../../agent/observability/logger.js';

/** The status table of docs/api.md, written out again so a change to either side is noticed. */
const DESIGN_STATUS: Record<SecretErrorCode, number> = {
  invalid_request: 400,
  invalid_id: 400,
  invalid_filter: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  already_exists: 409,
  pending_deletion: 409,
  precondition_failed: 412,
  payload_too_large: 413,
  locked: 423,
  throttled: 429,
  backend_error: 502,
  backend_unavailable: 503,
  backend_timeout: 504,
  internal: 500,
};

const CODES = Object.keys(DESIGN_STATUS) as SecretErrorCode[];

interface ProblemApp {
  app: Pick<FastifyInstance, 'inject'>;
  logText(): string;
}

/** A small Fastify app whose routes throw what the test asks for, answered through `sendProblem`. */
async function buildProblemApp(t: Test, bodyLimit = 1024 * 1024): Promise<ProblemApp> {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const app = Fastify({ loggerInstance: createLogger('trace', sink), bodyLimit });
  app.setErrorHandler((err, request, reply) => sendProblem(request, reply, err));
  app.get<{ Params: { code: SecretErrorCode }; Querystring: { retryAfterMs?: string } }>(
    '/throw/:code',
    async (request) => {
      const { retryAfterMs } = request.query;
      throw new SecretError(request.params.code, `failure of kind ${request.params.code}`, {
        ...(retryAfterMs === undefined ? {} : { retryAfterMs: Number(retryAfterMs) }),
      });
    },
  );
  app.get('/unexpected', async () => {
    throw new Error('database password hunter2 leaked into a message');
  });
  app.post(
    '/validated',
    { schema: { body: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } } } },
    async () => ({ ok: true }),
  );
  await app.ready();
  t.teardown(() => app.close());
  return { app, logText: () => lines.join('') };
}

t.test('the status table is the documented one, for every error code', async (t) => {
  // Act and assess
  t.same(Object.keys(STATUS_BY_CODE).sort(), [...CODES].sort(), 'no code missing, none extra');
  for (const code of CODES) t.equal(STATUS_BY_CODE[code].status, DESIGN_STATUS[code], code);
});

t.test('every code is answered with its status and an RFC 9457 problem body', async (t) => {
  // Prepare
  const { app } = await buildProblemApp(t);

  for (const code of CODES) {
    // Act
    const response = await app.inject({ method: 'GET', url: `/throw/${code}` });

    // Assess
    const body = response.json() as Problem;
    t.equal(response.statusCode, DESIGN_STATUS[code], `${code}: status`);
    t.match(response.headers['content-type'], /^application\/problem\+json/, `${code}: media type`);
    t.equal(body.status, DESIGN_STATUS[code], `${code}: status in the body`);
    t.equal(body.code, code, `${code}: code`);
    t.equal(body.type, `urn:secrets-broker:problem:${code}`, `${code}: type`);
    t.equal(body.title, STATUS_BY_CODE[code].title, `${code}: title`);
    t.match(body.requestId, /^\S+$/, `${code}: the request id is there`);
    if (code === 'internal') t.notOk('detail' in body, 'internal: no detail');
    else t.equal(body.detail, `failure of kind ${code}`, `${code}: detail is the safe message`);
  }
});

t.test('an unexpected error is 500 internal with no detail, and its message goes only to the log', async (t) => {
  // Prepare
  const { app, logText } = await buildProblemApp(t);

  // Act
  const response = await app.inject({ method: 'GET', url: '/unexpected' });

  // Assess
  t.equal(response.statusCode, 500);
  t.same(Object.keys(response.json()).sort(), ['code', 'requestId', 'status', 'title', 'type']);
  t.equal(response.json().code, 'internal');
  t.notMatch(response.body, /hunter2/);
  t.match(logText(), /database password/, 'the cause is logged for the operator');
});

t.test('423, 429 and 503 carry a default Retry-After; other codes carry none', async (t) => {
  // Prepare
  const { app } = await buildProblemApp(t);
  const expected: Partial<Record<SecretErrorCode, string>> = {
    locked: '1',
    throttled: '1',
    backend_unavailable: '5',
  };

  for (const code of CODES) {
    // Act
    const response = await app.inject({ method: 'GET', url: `/throw/${code}` });

    // Assess
    t.equal(response.headers['retry-after'], expected[code], `${code}: Retry-After`);
  }
});

t.test('an error’s own retryAfterMs becomes Retry-After in whole seconds, rounded up, at least 1', async (t) => {
  // Prepare
  const { app } = await buildProblemApp(t);
  const cases: [SecretErrorCode, number, string][] = [
    ['throttled', 2500, '3'],
    ['throttled', 3000, '3'],
    ['locked', 100, '1'],
    ['backend_unavailable', 0, '1'],
    ['backend_unavailable', 30_000, '30'],
  ];

  for (const [code, ms, header] of cases) {
    // Act
    const response = await app.inject({ method: 'GET', url: `/throw/${code}?retryAfterMs=${ms}` });

    // Assess
    t.equal(response.headers['retry-after'], header, `${code} after ${ms} ms`);
  }
});

t.test('a body that fails its schema is 400 invalid_request with Fastify’s reason as detail', async (t) => {
  // Prepare
  const { app } = await buildProblemApp(t);

  // Act
  const response = await app.inject({ method: 'POST', url: '/validated', payload: { name: 'x' } });

  // Assess
  t.equal(response.statusCode, 400);
  t.equal(response.json().code, 'invalid_request');
  t.match(response.json().detail, /id/);
});

t.test('a body over the limit is 413 payload_too_large', async (t) => {
  // Prepare
  const { app } = await buildProblemApp(t, 64);

  // Act
  const response = await app.inject({ method: 'POST', url: '/validated', payload: { id: 'x'.repeat(200) } });

  // Assess
  t.equal(response.statusCode, 413);
  t.equal(response.json().code, 'payload_too_large');
  t.match(response.headers['content-type'], /^application\/problem\+json/);
});

t.test('malformed JSON and a wrong media type are 400 invalid_request', async (t) => {
  // Prepare
  const { app } = await buildProblemApp(t);

  // Act
  const malformed = await app.inject({
    method: 'POST',
    url: '/validated',
    headers: { 'content-type': 'application/json' },
    payload: '{"id":',
  });
  const wrongType = await app.inject({
    method: 'POST',
    url: '/validated',
    headers: { 'content-type': 'text/plain' },
    payload: 'id=x',
  });

  // Assess
  t.equal(malformed.statusCode, 400);
  t.equal(malformed.json().code, 'invalid_request');
  t.equal(wrongType.statusCode, 400);
  t.equal(wrongType.json().code, 'invalid_request');
});

t.test(
  'toSecretError keeps a SecretError and turns unknown 5xx errors into internal with the cause kept',
  async (t) => {
    // Prepare
    const own = new SecretError('not_found', 'gone');
    const serverSide = Object.assign(new Error('socket hang up'), { statusCode: 503 });
    const clientSide = Object.assign(new Error('bad header'), { statusCode: 431 });

    // Act
    const kept = toSecretError(own);
    const internal = toSecretError(serverSide);
    const client = toSecretError(clientSide);
    const thrownString = toSecretError('a string');

    // Assess
    t.equal(kept, own);
    t.equal(internal.code, 'internal');
    t.equal(internal.cause, serverSide);
    t.equal(client.code, 'invalid_request');
    t.equal(thrownString.code, 'internal');
  },
);
