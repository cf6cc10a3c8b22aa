/**
 * The one place where Vault's answers become the broker's error kinds. Vault's own messages stay in
 * `cause` (for logs); the safe message is built from the id and the status only.
 */
import { notFound, SecretError } from '../errors.js';
import { VaultHttpError, VaultTransportError } from './transport.js';

/** How long to suggest waiting on a sealed Vault, which sends no Retry-After. */
export const SEALED_RETRY_AFTER_MS = 3000;
/** Vault's (and OpenBao's) one error string for every request while sealed. */
const SEALED = 'Vault is sealed';
/** A 429 without Retry-After still deserves a pause before the next attempt. */
export const THROTTLED_RETRY_AFTER_MS = 1000;

const CAS_MISMATCH = 'check-and-set parameter did not match the current version';
/** Vault's answer for a path no mount handles: the KV mount is missing, not the secret. */
const NO_ROUTE = 'no handler for route';

/** The failing operation's subject: a secret id, or undefined for calls about Vault itself. */
export interface ErrorSubject {
  id?: string;
  /** Names the step in messages, e.g. `read`, `login`. */
  action: string;
}

/** Status, Vault's error strings and Retry-After, from our transport or from node-vault's own error. */
interface VaultAnswer {
  statusCode: number;
  errors: string[];
  retryAfterMs: number | undefined;
}

export function vaultAnswerOf(err: unknown): VaultAnswer | undefined {
  if (err instanceof VaultHttpError) {
    return { statusCode: err.statusCode, errors: err.errors, retryAfterMs: err.retryAfterMs };
  }
  // node-vault's ApiResponseError (a 2xx other than 200/204 reaches it through our transport).
  const response = (err as { response?: { statusCode?: unknown; body?: { errors?: unknown } } } | null)?.response;
  if (response && typeof response.statusCode === 'number') {
    const errors = Array.isArray(response.body?.errors) ? (response.body.errors as string[]) : [];
    return { statusCode: response.statusCode, errors, retryAfterMs: undefined };
  }
  return undefined;
}

/** True when Vault refused the request for lack of permission (an expired token looks the same). */
export function isPermissionDenied(err: unknown): boolean {
  return vaultAnswerOf(err)?.statusCode === 403;
}

/** A 404 for the path itself (not for a missing mount, which Vault also answers with 404). */
export function isMissing(err: unknown): boolean {
  const answer = vaultAnswerOf(err);
  return answer?.statusCode === 404 && !answer.errors.some((e) => e.includes(NO_ROUTE));
}

/**
 * Maps anything a Vault call threw to a {@link SecretError}. A SecretError passes through; an
 * error that is neither a Vault answer nor a transport failure is a bug and is rethrown as is.
 */
export function toSecretError(err: unknown, subject: ErrorSubject): SecretError {
  if (err instanceof SecretError) return err;
  if (err instanceof VaultTransportError) return transportError(err, subject);
  const answer = vaultAnswerOf(err);
  if (!answer) throw err;
  return statusError(answer, err, subject);
}

function statusError(answer: VaultAnswer, cause: unknown, subject: ErrorSubject): SecretError {
  const { statusCode: status } = answer;
  const what = subject.id === undefined ? `vault ${subject.action}` : `${subject.action} of secret '${subject.id}'`;
  if (status === 404) {
    if (answer.errors.some((e) => e.includes(NO_ROUTE))) {
      return new SecretError('backend_error', `${what}: vault has no such mount (check the KV mount path)`, { cause });
    }
    return subject.id === undefined
      ? new SecretError('backend_error', `${what}: not found`, { cause })
      : notFound(subject.id, cause);
  }
  if (status === 400 && answer.errors.some((e) => e.includes(CAS_MISMATCH))) {
    return new SecretError('precondition_failed', `${what}: the version changed meanwhile`, { cause });
  }
  if (status === 400) return new SecretError('invalid_request', `${what}: vault rejected the request`, { cause });
  if (status === 401 || status === 403)
    return new SecretError('forbidden', `${what}: permission denied by vault`, { cause });
  if (status === 429) {
    const retryAfterMs = answer.retryAfterMs ?? THROTTLED_RETRY_AFTER_MS;
    return new SecretError('throttled', `${what}: vault rate limit reached`, { cause, retryAfterMs });
  }
  if (status === 503 && answer.errors.includes(SEALED)) return sealedError(what, cause);
  if (status === 503) {
    const retryAfterMs = answer.retryAfterMs ?? SEALED_RETRY_AFTER_MS;
    return new SecretError('backend_unavailable', `${what}: vault is unavailable`, { cause, retryAfterMs });
  }
  // 412 is Vault Enterprise's "index not yet replicated here": it clears by itself.
  if (status >= 500 || status === 412) {
    const retryAfterMs = answer.retryAfterMs;
    return new SecretError('backend_unavailable', `${what}: vault answered ${status}`, {
      cause,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }
  return new SecretError('backend_error', `${what}: vault answered ${status}`, { cause });
}

/**
 * A sealed Vault stays sealed until an operator (or auto-unseal) acts: retrying within one request
 * only delays the 503 (by about 9 s with the default retries). So it is unavailable now, not
 * transient; that also keeps a seal, Vault's emergency stop, from being answered as stale-if-error.
 */
export function sealedError(what: string, cause?: unknown): SecretError {
  return new SecretError('backend_unavailable', `${what}: vault is sealed`, {
    cause,
    retryAfterMs: SEALED_RETRY_AFTER_MS,
    transient: false,
  });
}

function transportError(err: VaultTransportError, subject: ErrorSubject): SecretError {
  const what = subject.id === undefined ? `vault ${subject.action}` : `${subject.action} of secret '${subject.id}'`;
  switch (err.failure) {
    case 'timeout':
    case 'aborted':
      return new SecretError('backend_timeout', `${what}: vault did not answer in time`, { cause: err });
    case 'tls':
      return new SecretError('backend_error', `${what}: vault's TLS certificate did not verify`, { cause: err });
    case 'protocol':
      return new SecretError('backend_error', `${what}: vault's answer could not be read`, { cause: err });
    default:
      return new SecretError('backend_unavailable', `${what}: vault is unreachable`, { cause: err });
  }
}
