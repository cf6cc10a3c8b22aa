/** The one error the client throws: an API problem, or a failure before any answer came back. */
import type { ClientErrorCode, Problem, ProblemCode } from './types.js';

export type SecretsBrokerErrorCode = ProblemCode | ClientErrorCode;

/**
 * A failed call. `code` is the problem's stable code (`not_found`, `precondition_failed`, ...) or,
 * when no answer came back, one of the client's own (`connection_failed`, `token_unreadable`,
 * `invalid_response`, `watch_unsupported`); `status` is the HTTP status, 0 when there was none.
 *
 * @example
 * try {
 *   await client.put('prod/db', { value: 'next' }, { ifMatch: version });
 * } catch (err) {
 *   if (err instanceof SecretsBrokerError && err.code === 'precondition_failed') {
 *     // someone else wrote first: read again and retry
 *   } else throw err;
 * }
 */
export class SecretsBrokerError extends Error {
  override readonly name = 'SecretsBrokerError';
  readonly code: SecretsBrokerErrorCode;
  readonly status: number;
  /** The problem's `detail`: what went wrong, never a secret value. */
  readonly detail: string | undefined;
  readonly requestId: string | undefined;

  constructor(
    code: SecretsBrokerErrorCode,
    status: number,
    detail: string | undefined,
    options: { requestId?: string; cause?: unknown } = {},
  ) {
    super(detail ?? code, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = status;
    this.detail = detail;
    this.requestId = options.requestId;
  }
}

/** The error for a non-success answer: its problem body when it has one, else just its status. */
export function errorFromResponse(status: number, body: Buffer): SecretsBrokerError {
  const problem = parseProblem(body);
  if (!problem)
    return new SecretsBrokerError('invalid_response', status, `unexpected HTTP ${status} without a problem body`);
  return new SecretsBrokerError(problem.code as SecretsBrokerErrorCode, status, problem.detail ?? problem.title, {
    requestId: problem.requestId,
  });
}

function parseProblem(body: Buffer): Problem | undefined {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as Partial<Problem>;
    return typeof parsed?.code === 'string' && typeof parsed.title === 'string' ? (parsed as Problem) : undefined;
  } catch {
    return undefined;
  }
}
