import t from 'tap';
import { isTransient, SecretError } from '../../agent/backends/errors.js';
import { parseRetryAfter, VaultHttpError, VaultTransportError } from '../../agent/backends/vault/transport.js';
import { toSecretError } from '../../agent/backends/vault/vault-errors.js';

const subject = { id: 'prod/db', action: 'read' };
const answer = (status: number, errors: string[] = [], retryAfterMs?: number) =>
  new VaultHttpError(status, errors, retryAfterMs, '/v1/secret/data/prod/db');

t.test(
  'Vault statuses map to one error kind each (sealed is lasting, not transient), with the vendor error kept as cause',
  async (t) => {
    // Prepare
    const cases: Array<[VaultHttpError, string, boolean]> = [
      [answer(404), 'not_found', false],
      [answer(400, ['check-and-set parameter did not match the current version']), 'precondition_failed', false],
      [answer(400, ['no data provided']), 'invalid_request', false],
      [answer(403, ['1 error occurred:\n\t* permission denied\n\n']), 'forbidden', false],
      [answer(429), 'throttled', true],
      [answer(503, ['Vault is sealed']), 'backend_unavailable', false],
      [answer(503, ['standby is unavailable']), 'backend_unavailable', true],
      [answer(500), 'backend_unavailable', true],
      [answer(502), 'backend_unavailable', true],
      [answer(412), 'backend_unavailable', true],
      [answer(405), 'backend_error', false],
      [answer(404, ['no handler for route "nope/data/x". route entry not found.']), 'backend_error', false],
    ];

    // Act
    const mapped = cases.map(([err]) => toSecretError(err, subject));

    // Assess
    mapped.forEach((err, i) => {
      const [vendor, code, transient] = cases[i] as [VaultHttpError, string, boolean];
      t.equal(err.code, code, `${vendor.statusCode} ${vendor.errors[0] ?? ''}`);
      t.equal(isTransient(err), transient);
      t.equal(err.cause, vendor);
    });
  },
);

t.test('throttled and sealed carry a retry hint: Vault’s Retry-After, else a default', async (t) => {
  // Act
  const withHeader = toSecretError(answer(429, [], 7000), subject);
  const without = toSecretError(answer(429), subject);
  const sealed = toSecretError(answer(503, ['Vault is sealed']), subject);
  const unavailable = toSecretError(answer(503), subject);
  const proxy = toSecretError(answer(502, [], 2000), subject);

  // Assess
  t.equal(withHeader.retryAfterMs, 7000);
  t.ok((without.retryAfterMs ?? 0) > 0);
  t.ok((sealed.retryAfterMs ?? 0) >= 1000);
  t.ok((unavailable.retryAfterMs ?? 0) >= 1000);
  t.equal(proxy.retryAfterMs, 2000);
});

t.test('transport failures map to timeout, unavailable or a non-transient backend_error', async (t) => {
  // Act
  const codes = (['timeout', 'aborted', 'connection', 'tls', 'protocol'] as const).map(
    (failure) => toSecretError(new VaultTransportError(failure, 'x'), { action: 'health check' }).code,
  );

  // Assess
  t.same(codes, ['backend_timeout', 'backend_timeout', 'backend_unavailable', 'backend_error', 'backend_error']);
});

t.test('a SecretError passes through and anything unknown is rethrown untouched', async (t) => {
  // Prepare
  const ours = new SecretError('locked', 'held');
  const bug = new TypeError('bug');

  // Act and Assess
  t.equal(toSecretError(ours, subject), ours);
  t.throws(() => toSecretError(bug, subject), bug);
});

t.test('node-vault’s own response errors are understood too', async (t) => {
  // Prepare
  const apiError = Object.assign(new Error('Status 403'), {
    response: { statusCode: 403, body: { errors: ['denied'] } },
  });

  // Act and Assess
  t.equal(toSecretError(apiError, subject).code, 'forbidden');
});

t.test('Retry-After is read as seconds or as an HTTP date', async (t) => {
  // Prepare
  const now = Date.parse('2026-01-01T00:00:00Z');

  // Act and Assess
  t.equal(parseRetryAfter('3', now), 3000);
  t.equal(parseRetryAfter(['5'], now), 5000);
  t.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', now), 10_000);
  t.equal(parseRetryAfter('Wed, 31 Dec 2025 23:59:00 GMT', now), 0, 'a date in the past means now');
  t.equal(parseRetryAfter('soon', now), undefined);
  t.equal(parseRetryAfter(undefined, now), undefined);
});
