/**
 * The error kinds every layer speaks. Backends translate vendor failures into these at their own
 * boundary (keeping the vendor error as `cause`); the HTTP edge maps each code to one status.
 */
export type SecretErrorCode =
  | 'invalid_request'
  | 'invalid_id'
  | 'invalid_filter'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'already_exists'
  | 'pending_deletion'
  | 'precondition_failed'
  | 'payload_too_large'
  | 'locked'
  | 'throttled'
  | 'backend_error'
  | 'backend_unavailable'
  | 'backend_timeout'
  | 'internal';

export interface SecretErrorOptions {
  cause?: unknown;
  /** How long the caller should wait before trying again, when the backend said so. */
  retryAfterMs?: number;
  /**
   * Overrides what the code implies for {@link isTransient}: `false` for a failure the backend
   * reported as lasting (a sealed Vault), which no retry within one request can cure.
   */
  transient?: boolean;
}

/**
 * One error class for every expected failure. `message` is safe to show a caller: it must never
 * contain a secret value, so backends build it from ids and vendor error names only.
 */
export class SecretError extends Error {
  override readonly name: string = 'SecretError';
  readonly code: SecretErrorCode;
  readonly retryAfterMs: number | undefined;
  readonly transient: boolean;

  constructor(code: SecretErrorCode, message: string, options: SecretErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryAfterMs = options.retryAfterMs;
    this.transient = options.transient ?? TRANSIENT_CODES.has(code);
  }
}

/** The codes a retry may cure: the backend was busy, down or slow, not wrong. */
const TRANSIENT_CODES: ReadonlySet<SecretErrorCode> = new Set(['throttled', 'backend_unavailable', 'backend_timeout']);

/**
 * The single decision point for "may this be retried, or answered from a stale cache?".
 * Only a {@link SecretError} with a transient code (and not marked lasting by its backend)
 * qualifies; anything unknown is not transient, because retrying a bug only multiplies it.
 */
export function isTransient(err: unknown): boolean {
  return err instanceof SecretError && err.transient;
}

/** Shorthand used by backends: `notFound('prod/db')`. */
export function notFound(id: string, cause?: unknown): SecretError {
  return new SecretError('not_found', `secret '${id}' does not exist`, { cause });
}
