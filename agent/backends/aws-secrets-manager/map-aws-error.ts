/**
 * The one place where AWS SDK failures become the broker's error kinds. Messages are built from the
 * secret id and the vendor error's name only (never from vendor text, which could echo input), and
 * the vendor error is kept as `cause` for the log.
 */
import { SecretError, type SecretErrorCode } from '../errors.js';

/**
 * What the failed call was doing. The same AWS answer means different things per action: "marked
 * for deletion" is `pending_deletion` to a create but `not_found` to a read or a write.
 */
export type AwsAction = 'read' | 'create' | 'write' | 'delete' | 'list' | 'ready';

/** The parts of an SDK error we look at; SDK errors are plain `Error`s with these extra fields. */
interface AwsErrorShape {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number; headers?: Record<string, string | undefined> };
}

/** Secrets Manager names throttling in several ways; none of them is a modelled class. */
const THROTTLING_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'RequestThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'SlowDown',
]);

/** Identity and signature failures, from Secrets Manager itself or from STS while assuming the role. */
const FORBIDDEN_NAMES = new Set([
  'AccessDeniedException',
  'AccessDenied',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'IncompleteSignature',
  'MissingAuthenticationToken',
  'ExpiredTokenException',
  'ExpiredToken',
  'InvalidIdentityToken',
  'InvalidIdentityTokenException',
]);

const UNAVAILABLE_NAMES = new Set([
  'InternalServiceError',
  'InternalFailure',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'IDPCommunicationError',
  'IDPCommunicationErrorException',
]);

const INVALID_REQUEST_NAMES = new Set([
  'InvalidParameterException',
  'ValidationException',
  'InvalidNextTokenException',
  'InvalidRequestException',
]);

/** Socket-level failures: the service was not reached or the connection broke. A retry may cure them. */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNABORTED',
]);

/** AWS words "this secret is scheduled for deletion" differently per operation; moto words it a third way. */
const PENDING_DELETION_TEXT = /(marked|scheduled)\s+(for\s+)?delet/i;

/**
 * Translates anything an SDK call threw into a {@link SecretError}. A `SecretError` passes through
 * unchanged, so the function is safe to apply twice.
 *
 * @example
 * ```ts
 * try { await client.send(command, { abortSignal }); }
 * catch (err) { throw mapAwsError(err, 'read', id); }
 * ```
 */
export function mapAwsError(err: unknown, action: AwsAction, id?: string): SecretError {
  if (err instanceof SecretError) return err;
  const shape = (typeof err === 'object' && err !== null ? err : {}) as AwsErrorShape;
  const name = typeof shape.name === 'string' ? shape.name : '';
  const [code, message] = classify(shape, name, action);
  const options = code === 'throttled' ? { cause: err, retryAfterMs: retryAfterMs(shape) } : { cause: err };
  return new SecretError(code, describeFailure(code, message, name, id), options);
}

/** The error kind and a short, value-free explanation of it. */
function classify(shape: AwsErrorShape, name: string, action: AwsAction): [SecretErrorCode, string] {
  const byName = classifyByName(shape, name, action);
  if (byName) return byName;
  const status = shape.$metadata?.httpStatusCode ?? shape.$response?.statusCode;
  if (status === 429) return ['throttled', 'AWS Secrets Manager throttled the request'];
  if (status === 401 || status === 403) return ['forbidden', 'AWS refused the credentials or the permission'];
  if (status !== undefined && status >= 500) return ['backend_unavailable', `AWS Secrets Manager answered ${status}`];
  const code = typeof shape.code === 'string' ? shape.code : '';
  // The SDK's handler renames ECONNRESET and EPIPE to TimeoutError; the socket code tells the truth.
  if (CONNECTION_CODES.has(code) || /socket hang up/i.test(String(shape.message))) {
    return ['backend_unavailable', `the connection to AWS failed (${code || 'socket hang up'})`];
  }
  if (name === 'TimeoutError' || code === 'ETIMEDOUT') return ['backend_timeout', 'the call to AWS timed out'];
  if (name === 'AbortError') return ['backend_timeout', 'the call to AWS was aborted'];
  if (name === 'CredentialsProviderError') {
    return [
      'backend_error',
      'AWS credentials could not be resolved (check AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE)',
    ];
  }
  return ['backend_error', 'AWS Secrets Manager failed'];
}

function classifyByName(shape: AwsErrorShape, name: string, action: AwsAction): [SecretErrorCode, string] | undefined {
  if (THROTTLING_NAMES.has(name)) return ['throttled', 'AWS Secrets Manager throttled the request'];
  if (name === 'ResourceNotFoundException') return ['not_found', 'does not exist'];
  if (name === 'ResourceExistsException') return ['already_exists', 'already exists'];
  if (name === 'InvalidRequestException' && PENDING_DELETION_TEXT.test(String(shape.message))) {
    return action === 'create' ? ['pending_deletion', 'is scheduled for deletion'] : ['not_found', 'does not exist'];
  }
  if (FORBIDDEN_NAMES.has(name)) return ['forbidden', 'AWS refused the credentials or the permission'];
  if (name === 'DecryptionFailure' || name === 'EncryptionFailure' || name.startsWith('KMS')) {
    return ['backend_error', 'AWS KMS could not encrypt or decrypt the secret (check the key policy and key state)'];
  }
  if (name === 'LimitExceededException') {
    return ['backend_error', 'an AWS Secrets Manager resource quota is exhausted (secrets or versions)'];
  }
  if (UNAVAILABLE_NAMES.has(name)) return ['backend_unavailable', 'AWS Secrets Manager is unavailable'];
  if (INVALID_REQUEST_NAMES.has(name)) return ['invalid_request', 'AWS Secrets Manager rejected the request'];
  return undefined;
}

/** "secret 'prod/db' does not exist", or a service-level sentence naming the vendor error. */
function describeFailure(code: SecretErrorCode, message: string, name: string, id: string | undefined): string {
  const subject = id === undefined ? '' : `secret '${id}': `;
  if (code === 'not_found' || code === 'already_exists' || code === 'pending_deletion') {
    return id === undefined ? `secret ${message}` : `secret '${id}' ${message}`;
  }
  const vendor = name && name !== 'Error' ? ` (${name})` : '';
  return `${subject}${message}${vendor}`;
}

/** Retry-After in seconds or as an HTTP date, when the response carried one. */
function retryAfterMs(shape: AwsErrorShape): number | undefined {
  const header = shape.$response?.headers?.['retry-after'];
  if (header === undefined) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
