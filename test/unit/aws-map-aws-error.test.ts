/**
 * mapAwsError, the AWS backend's single translation of SDK failures into the broker's error kinds,
 * fed with errors shaped the way the SDK builds them.
 */
import t from 'tap';
import { mapAwsError } from '../../agent/backends/aws-secrets-manager/map-aws-error.js';
import { isTransient, SecretError } from '../../agent/backends/errors.js';

/** An error as the SDK throws it: an Error with a name, HTTP metadata and (hidden) raw response. */
function sdkError(name: string, message = 'vendor text', status?: number, headers: Record<string, string> = {}) {
  return Object.assign(new Error(message), {
    name,
    $metadata: { httpStatusCode: status },
    $response: { statusCode: status, headers },
  });
}

function socketError(name: string, code: string, message = 'socket failure') {
  return Object.assign(new Error(message), { name, code });
}

t.test('AWS error names map to error kinds, whatever the action', async (t) => {
  // Prepare
  const cases: [string, string][] = [
    ['ResourceNotFoundException', 'not_found'],
    ['ResourceExistsException', 'already_exists'],
    ['ThrottlingException', 'throttled'],
    ['TooManyRequestsException', 'throttled'],
    ['AccessDeniedException', 'forbidden'],
    ['UnrecognizedClientException', 'forbidden'],
    ['ExpiredTokenException', 'forbidden'],
    ['InvalidIdentityToken', 'forbidden'],
    ['InternalServiceError', 'backend_unavailable'],
    ['DecryptionFailure', 'backend_error'],
    ['EncryptionFailure', 'backend_error'],
    ['LimitExceededException', 'backend_error'],
    ['InvalidParameterException', 'invalid_request'],
    ['InvalidNextTokenException', 'invalid_request'],
    ['InvalidRequestException', 'invalid_request'],
    ['SomethingNew', 'backend_error'],
  ];

  // Act
  const mapped = cases.map(([name]) => mapAwsError(sdkError(name, 'x', 400), 'read', 'a').code);

  // Assess
  t.same(
    mapped,
    cases.map(([, code]) => code),
  );
});

t.test('"marked for deletion" is pending_deletion to a create and not_found to everything else', async (t) => {
  // Prepare
  const wordings = [
    "You can't create this secret because a secret with this name is already scheduled for deletion.",
    "You can't perform this operation on the secret because it was marked for deletion.",
    "You tried to perform the operation on a secret that's currently marked deleted.",
  ];

  // Act
  const onCreate = wordings.map((m) => mapAwsError(sdkError('InvalidRequestException', m, 400), 'create', 'a'));
  const onWrite = wordings.map((m) => mapAwsError(sdkError('InvalidRequestException', m, 400), 'write', 'a'));

  // Assess
  for (const err of onCreate)
    t.match(err, { code: 'pending_deletion', message: "secret 'a' is scheduled for deletion" });
  for (const err of onWrite) t.match(err, { code: 'not_found', message: "secret 'a' does not exist" });
});

t.test('without a known name the HTTP status decides: 429 throttled, 401/403 forbidden, 5xx unavailable', async (t) => {
  // Act
  const codes = [429, 401, 403, 500, 502, 503, 418].map((s) => mapAwsError(sdkError('Unknown', 'x', s), 'read').code);

  // Assess
  t.same(codes, [
    'throttled',
    'forbidden',
    'forbidden',
    'backend_unavailable',
    'backend_unavailable',
    'backend_unavailable',
    'backend_error',
  ]);
});

t.test('a deserialization failure of a 5xx page is backend_unavailable', async (t) => {
  // Prepare: the SDK reports an HTML error page as a SyntaxError carrying the status
  const err = sdkError('SyntaxError', 'Unexpected token <', 503);

  // Act
  const mapped = mapAwsError(err, 'list');

  // Assess
  t.equal(mapped.code, 'backend_unavailable');
});

t.test('connection failures are backend_unavailable, even when the SDK renames them TimeoutError', async (t) => {
  // Prepare
  const errors = [
    socketError('Error', 'ECONNREFUSED'),
    socketError('TimeoutError', 'ECONNRESET', 'socket hang up'),
    socketError('TimeoutError', 'EPIPE'),
    socketError('Error', 'EAI_AGAIN'),
    new Error('socket hang up'),
  ];

  // Act
  const codes = errors.map((err) => mapAwsError(err, 'read').code);

  // Assess
  t.same(codes, Array(errors.length).fill('backend_unavailable'));
});

t.test('timeouts and aborted calls are backend_timeout', async (t) => {
  // Prepare
  const requestTimeout = socketError('TimeoutError', 'ETIMEDOUT', 'request has exceeded the configured requestTimeout');
  const connectTimeout = Object.assign(new Error('did not establish a connection'), { name: 'TimeoutError' });
  const aborted = Object.assign(new Error('Request aborted'), { name: 'AbortError' });

  // Act
  const codes = [requestTimeout, connectTimeout, aborted].map((err) => mapAwsError(err, 'read').code);

  // Assess
  t.same(codes, ['backend_timeout', 'backend_timeout', 'backend_timeout']);
});

t.test('transient kinds are exactly throttled, unavailable and timeout', async (t) => {
  // Act
  const throttled = mapAwsError(sdkError('ThrottlingException', 'x', 400), 'read');
  const missing = mapAwsError(sdkError('ResourceNotFoundException', 'x', 404), 'read');
  const kms = mapAwsError(sdkError('DecryptionFailure', 'x', 400), 'read');

  // Assess
  t.ok(isTransient(throttled));
  t.notOk(isTransient(missing));
  t.notOk(isTransient(kms));
});

t.test('Retry-After in seconds or as an HTTP date becomes retryAfterMs on throttling', async (t) => {
  // Prepare
  const inSeconds = sdkError('ThrottlingException', 'x', 400, { 'retry-after': '3' });
  const asDate = sdkError('Unknown', 'x', 429, { 'retry-after': new Date(Date.now() + 60_000).toUTCString() });
  const garbled = sdkError('ThrottlingException', 'x', 400, { 'retry-after': 'soon' });

  // Act
  const [seconds, date, none] = [inSeconds, asDate, garbled].map((err) => mapAwsError(err, 'read').retryAfterMs);

  // Assess
  t.equal(seconds, 3000);
  t.ok(date !== undefined && date > 0 && date <= 60_000);
  t.equal(none, undefined);
});

t.test('missing credentials are a backend_error naming the IRSA variables', async (t) => {
  // Act
  const err = mapAwsError(
    sdkError('CredentialsProviderError', 'Could not load credentials from any providers'),
    'ready',
  );

  // Assess
  t.match(err, { code: 'backend_error', message: /AWS_ROLE_ARN/ });
});

t.test('messages never repeat vendor text and the vendor error is kept as cause', async (t) => {
  // Prepare: vendor text that must not reach a caller
  const vendor = sdkError('InvalidParameterException', 'value hunter2 is not valid', 400);

  // Act
  const err = mapAwsError(vendor, 'write', 'prod/db');

  // Assess
  t.notMatch(err.message, /hunter2/);
  t.match(err.message, /prod\/db/);
  t.equal(err.cause, vendor);
});

t.test('a SecretError passes through unchanged', async (t) => {
  // Prepare
  const original = new SecretError('backend_timeout', 'timed out');

  // Act
  const mapped = mapAwsError(original, 'read');

  // Assess
  t.equal(mapped, original);
});

t.test('something that is not an Error at all is a backend_error', async (t) => {
  // Act
  const err = mapAwsError('boom', 'list');

  // Assess
  t.match(err, { code: 'backend_error', cause: 'boom' });
});
