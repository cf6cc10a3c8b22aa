/**
 * The one table from error kinds to HTTP statuses, and the problem+json body (RFC 9457) every
 * error answers with. Unknown errors become 500 `internal` with no detail: the cause goes to the
 * log only, since an unexpected message might carry anything.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { SecretError, type SecretErrorCode } from '../backends/errors.js';

interface StatusEntry {
  status: number;
  title: string;
  /** Default Retry-After, in seconds, when the error does not carry its own. */
  retryAfterSeconds?: number;
}

export const STATUS_BY_CODE: Readonly<Record<SecretErrorCode, StatusEntry>> = {
  invalid_request: { status: 400, title: 'Invalid request' },
  invalid_id: { status: 400, title: 'Invalid secret id' },
  invalid_filter: { status: 400, title: 'Invalid filter' },
  unauthorized: { status: 401, title: 'Unauthorized' },
  forbidden: { status: 403, title: 'Forbidden' },
  not_found: { status: 404, title: 'Not found' },
  already_exists: { status: 409, title: 'Already exists' },
  pending_deletion: { status: 409, title: 'Pending deletion' },
  precondition_failed: { status: 412, title: 'Precondition failed' },
  payload_too_large: { status: 413, title: 'Payload too large' },
  locked: { status: 423, title: 'Locked', retryAfterSeconds: 1 },
  throttled: { status: 429, title: 'Throttled', retryAfterSeconds: 1 },
  backend_error: { status: 502, title: 'Backend error' },
  backend_unavailable: { status: 503, title: 'Backend unavailable', retryAfterSeconds: 5 },
  backend_timeout: { status: 504, title: 'Backend timeout' },
  internal: { status: 500, title: 'Internal error' },
};

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  code: SecretErrorCode;
  requestId: string;
}

/** Translates Fastify's own errors (validation, body limits, parsing) into our kinds. */
export function toSecretError(err: unknown): SecretError {
  if (err instanceof SecretError) return err;
  const fastifyError = err as Partial<FastifyError>;
  if (fastifyError.validation) {
    return new SecretError('invalid_request', fastifyError.message ?? 'request does not match its schema');
  }
  if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return new SecretError('payload_too_large', 'request body is larger than 128 KiB');
  }
  if (fastifyError.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return new SecretError('invalid_request', 'request body must be application/json');
  }
  if (fastifyError.code === 'FST_ERR_BAD_URL') {
    return new SecretError(
      'invalid_request',
      'the path holds a malformed percent-encoding (% must be followed by two hex digits)',
    );
  }
  const status = fastifyError.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    return new SecretError('invalid_request', fastifyError.message ?? 'invalid request');
  }
  return new SecretError('internal', 'internal error', { cause: err });
}

/** The problem+json body; `status` and `title` default to the code's row of the table. */
export function problemBody(
  code: SecretErrorCode,
  requestId: string,
  detail?: string,
  override?: { status: number; title: string },
): Problem {
  const { status, title } = override ?? STATUS_BY_CODE[code];
  return {
    type: `urn:secrets-broker:problem:${code}`,
    title,
    status,
    ...(code === 'internal' || detail === undefined ? {} : { detail }),
    code,
    requestId,
  };
}

/**
 * A refusal sent before the request's body was read leaves that body on the connection; closing
 * it is cheaper and safer than reading (or waiting for) a body nobody will use.
 */
function closeIfBodyUnread(request: FastifyRequest, reply: FastifyReply): void {
  const { raw } = request;
  if (raw.complete) return;
  const length = raw.headers['content-length'];
  const hasBody = raw.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
  if (hasBody) reply.header('connection', 'close');
}

/** 405 for a known path asked with a method it does not have; `Allow` lists the ones it has. */
export function sendMethodNotAllowed(request: FastifyRequest, reply: FastifyReply, allowed: string[]): FastifyReply {
  const path = request.url.split('?')[0];
  const detail = `${request.method} is not allowed on ${path}; allowed: ${allowed.join(', ')}`;
  const override = { status: 405, title: 'Method not allowed' };
  closeIfBodyUnread(request, reply);
  reply.header('allow', allowed.join(', '));
  const body = problemBody('invalid_request', request.id, detail, override);
  return reply.code(405).type('application/problem+json').send(body);
}

export function sendProblem(request: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply {
  const error = toSecretError(err);
  const entry = STATUS_BY_CODE[error.code];
  if (error.code === 'internal') {
    request.log.error({ err, requestId: request.id }, 'request failed with an unexpected error');
  } else if (entry.status >= 500) {
    request.log.warn({ code: error.code, reason: error.message, requestId: request.id }, 'backend request failed');
  }
  const retryAfter = error.retryAfterMs !== undefined ? Math.ceil(error.retryAfterMs / 1000) : entry.retryAfterSeconds;
  if (retryAfter !== undefined) reply.header('retry-after', String(Math.max(1, retryAfter)));
  closeIfBodyUnread(request, reply);
  const problem = problemBody(error.code, request.id, error.message);
  return reply.code(entry.status).type('application/problem+json').send(problem);
}
