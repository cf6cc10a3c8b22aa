/**
 * The broker's Vault token, kept valid without callers noticing: a login (Kubernetes or JWT auth
 * with the service-account token file, re-read every time because the kubelet rotates it) or a
 * configured token; renewal at two thirds of the TTL, checked lazily before each request; a fresh
 * login when renewal fails, the token is not renewable, or a renewal comes back capped by the max
 * TTL (then at two thirds of what is left, so the new token is in hand well before the old one
 * dies); and one retry after a fresh login when Vault answers 403 because the token lapsed. Failed logins back off (jittered,
 * bounded) so a misconfigured role or a sealed Vault is not hammered by every request.
 */
import { readFile } from 'node:fs/promises';
import type NodeVault from 'node-vault';
import { SecretError } from '../errors.js';
import { onAbort } from './abort-fanout.js';
import { isPermissionDenied, toSecretError, vaultAnswerOf } from './vault-errors.js';

export type VaultAuthMethod = 'kubernetes' | 'jwt' | 'token';

/** How the broker logs in to Vault: part of the backend's options, passed on to the session. */
export interface VaultLoginSettings {
  auth: VaultAuthMethod;
  /** Login role (required for `kubernetes` and `jwt`). */
  role?: string;
  /** Mount path of the auth method; defaults to its name (`kubernetes` or `jwt`). */
  authMount?: string;
  /** Service-account token used to log in; re-read at every login since the kubelet rotates it. */
  jwtFile: string;
  /** `token` auth: a file holding the token (re-read when the token must be replaced). */
  tokenFile?: string;
  /** `token` auth: the token itself (from VAULT_TOKEN), when there is no token file. */
  token?: string;
}

export interface SessionSettings extends VaultLoginSettings {
  now: () => number;
}

interface TokenState {
  token: string;
  obtainedAt: number;
  /** Lifetime at `obtainedAt`, in ms; 0 means the token never expires (a root token, say). */
  ttlMs: number;
  renewable: boolean;
  /** What each renewal asks for (seconds): the TTL the token was issued with. */
  incrementSeconds: number;
  /** Set when renewal can no longer extend the token (max TTL reached): log in at the next refresh. */
  loginNext: boolean;
}

const LOGIN_BACKOFF_BASE_MS = 500;
const LOGIN_BACKOFF_MAX_MS = 30_000;
/** Renew at this fraction of the TTL, leaving a third of it for the renewal (or a login) to succeed. */
const REFRESH_FRACTION = 2 / 3;

export class VaultSession {
  readonly #client: NodeVault.client;
  readonly #settings: SessionSettings;
  #state: TokenState | undefined;
  /** The login or renewal in flight; concurrent callers share it. */
  #refreshing: Promise<TokenState> | undefined;
  #loginFailures = 0;
  #nextLoginAt = 0;
  #lastLoginError: SecretError | undefined;

  constructor(client: NodeVault.client, settings: SessionSettings) {
    this.#client = client;
    this.#settings = settings;
  }

  /**
   * Runs `call` with a valid token. On a 403 the token is checked: if Vault no longer knows it
   * (expired, revoked), the session logs in again and `call` runs once more; if the token is fine the
   * 403 was the policy's answer and is returned as is.
   */
  async withToken<T>(call: (token: string) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const state = await this.#validToken(signal);
    try {
      return await call(state.token);
    } catch (err) {
      if (!isPermissionDenied(err) || (await this.#stillValid(state.token, signal))) throw err;
      if (this.#state === state) this.#state = undefined;
      const fresh = await this.#validToken(signal);
      return await call(fresh.token);
    }
  }

  /** Request options that carry `token` and the caller's abort signal to node-vault's transport. */
  requestOptions(token: string | undefined, signal?: AbortSignal): Record<string, unknown> {
    return { headers: token ? { 'X-Vault-Token': token } : {}, ...(signal ? { signal } : {}) };
  }

  /** Looks the current token up: proves it is valid (used by readiness). */
  async lookupSelf(signal?: AbortSignal): Promise<void> {
    await this.withToken(
      (token) => this.#client.tokenLookupSelf({ requestOptions: this.requestOptions(token, signal) }),
      signal,
    );
  }

  /** Best effort: revokes a token this session logged in for (never a configured one). */
  async revoke(): Promise<void> {
    const state = this.#state;
    this.#state = undefined;
    if (!state || this.#settings.auth === 'token') return;
    try {
      await this.#client.write('auth/token/revoke-self', {}, { ...this.requestOptions(state.token), timeout: 1000 });
    } catch {
      // The token expires on its own; shutdown must not wait for or fail on this.
    }
  }

  async #validToken(signal?: AbortSignal): Promise<TokenState> {
    const state = this.#state;
    if (state && !this.#refreshing && !this.#dueForRefresh(state)) return state;
    // The refresh is shared, so one caller's abort must not cancel it for the others.
    this.#refreshing ??= this.#refresh(state).finally(() => {
      this.#refreshing = undefined;
    });
    return raceAbort(this.#refreshing, signal);
  }

  #dueForRefresh(state: TokenState): boolean {
    return state.ttlMs > 0 && this.#settings.now() >= state.obtainedAt + state.ttlMs * REFRESH_FRACTION;
  }

  #expired(state: TokenState): boolean {
    return state.ttlMs > 0 && this.#settings.now() >= state.obtainedAt + state.ttlMs;
  }

  async #refresh(state: TokenState | undefined): Promise<TokenState> {
    if (state?.renewable && !state.loginNext && !this.#expired(state)) {
      try {
        return this.#adopt(await this.#renew(state));
      } catch {
        // Renewal refused or failed: a fresh login is the way back.
      }
    }
    try {
      return this.#adopt(await this.#loginWithBackoff());
    } catch (err) {
      // A token that still has time left is better than no token while Vault recovers.
      if (state && !this.#expired(state)) return state;
      throw err;
    }
  }

  #adopt(state: TokenState): TokenState {
    this.#state = state;
    return state;
  }

  /**
   * Asks for the token's own TTL again. Vault grants less only when the max TTL is in the way: that
   * token is then at its end, so the next refresh (at two thirds of what is left) logs in instead.
   */
  async #renew(state: TokenState): Promise<TokenState> {
    const result = await this.#client.tokenRenewSelf({
      increment: state.incrementSeconds,
      requestOptions: this.requestOptions(state.token),
    });
    this.#forgetClientToken();
    const grantedSeconds = Number(result?.auth?.lease_duration ?? 0);
    const renewable = result?.auth?.renewable === true;
    const capped = grantedSeconds < state.incrementSeconds;
    return {
      ...state,
      obtainedAt: this.#settings.now(),
      ttlMs: grantedSeconds > 0 ? grantedSeconds * 1000 : state.ttlMs,
      renewable,
      loginNext: !renewable || capped || grantedSeconds === 0,
    };
  }

  async #loginWithBackoff(): Promise<TokenState> {
    const now = this.#settings.now();
    if (this.#lastLoginError && now < this.#nextLoginAt) {
      throw withRetryAfter(this.#lastLoginError, this.#nextLoginAt - now);
    }
    try {
      const state = await this.#login();
      this.#loginFailures = 0;
      this.#lastLoginError = undefined;
      return state;
    } catch (err) {
      const mapped = loginError(err);
      this.#loginFailures++;
      this.#nextLoginAt = this.#settings.now() + jitteredBackoff(this.#loginFailures);
      this.#lastLoginError = mapped;
      throw mapped;
    }
  }

  async #login(): Promise<TokenState> {
    const { auth } = this.#settings;
    if (auth === 'token') return this.#adoptConfiguredToken();
    const jwt = await readSecretFile(this.#settings.jwtFile, 'service-account token file');
    const args = {
      role: this.#settings.role ?? '',
      jwt,
      mount_point: this.#settings.authMount ?? auth,
      requestOptions: this.requestOptions(undefined),
    };
    const result = auth === 'kubernetes' ? await this.#client.kubernetesLogin(args) : await this.#client.jwtLogin(args);
    this.#forgetClientToken();
    const token = result?.auth?.client_token;
    if (typeof token !== 'string' || token === '') {
      throw new SecretError('backend_error', 'vault login answered without a client token');
    }
    const ttlSeconds = Number(result.auth.lease_duration ?? 0);
    return {
      token,
      obtainedAt: this.#settings.now(),
      ttlMs: ttlSeconds * 1000,
      renewable: result.auth.renewable === true,
      incrementSeconds: ttlSeconds,
      loginNext: false,
    };
  }

  /** `token` auth: the token file (re-read, something else may rotate it) or VAULT_TOKEN. */
  async #adoptConfiguredToken(): Promise<TokenState> {
    const { tokenFile } = this.#settings;
    const token = tokenFile ? await readSecretFile(tokenFile, 'vault token file') : (this.#settings.token ?? '');
    if (token === '') throw new SecretError('backend_error', 'no vault token is configured');
    const lookup = await this.#client.tokenLookupSelf({ requestOptions: this.requestOptions(token) });
    const ttlSeconds = Number(lookup?.data?.ttl ?? 0);
    return {
      token,
      obtainedAt: this.#settings.now(),
      ttlMs: ttlSeconds * 1000,
      renewable: lookup?.data?.renewable === true,
      // The TTL it was created with, not what is left of it: a renewal restores the full TTL.
      incrementSeconds: Number(lookup?.data?.creation_ttl ?? 0) || ttlSeconds,
      loginNext: false,
    };
  }

  /** True if Vault still accepts the token; false if it answers 403 for the token itself. */
  async #stillValid(token: string, signal?: AbortSignal): Promise<boolean> {
    try {
      await this.#client.tokenLookupSelf({ requestOptions: this.requestOptions(token, signal) });
      return true;
    } catch (err) {
      if (isPermissionDenied(err)) return false;
      throw err;
    }
  }

  /** node-vault keeps the last login's token on the client; ours travels per request instead. */
  #forgetClientToken(): void {
    this.#client.token = '';
  }
}

/** A refused login is a configuration problem (role, audience, binding), whatever status says so. */
function loginError(err: unknown): SecretError {
  const status = vaultAnswerOf(err)?.statusCode;
  if (status === 400 || status === 401 || status === 403) {
    return new SecretError('forbidden', 'vault refused the login (check the role and the token audience)', {
      cause: err,
    });
  }
  return toSecretError(err, { action: 'login' });
}

function withRetryAfter(err: SecretError, waitMs: number): SecretError {
  const retryAfterMs = Math.max(err.retryAfterMs ?? 0, waitMs);
  return new SecretError(err.code, err.message, { cause: err.cause, retryAfterMs, transient: err.transient });
}

/** Exponential from 0.5 s, capped at 30 s, with "equal jitter" so a fleet does not retry in step. */
function jitteredBackoff(failures: number): number {
  const ceiling = Math.min(LOGIN_BACKOFF_MAX_MS, LOGIN_BACKOFF_BASE_MS * 2 ** (failures - 1));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

async function readSecretFile(path: string, what: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new SecretError('backend_error', `cannot read the ${what} ${path} (${code})`, { cause: err });
  }
}

/** Resolves or rejects with `promise`, or rejects as a timeout as soon as `signal` aborts. */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(new SecretError('backend_timeout', 'vault call aborted', { cause: signal.reason }));
    if (signal.aborted) abort();
    const unsubscribe = signal.aborted ? undefined : onAbort(signal, abort);
    // Subscribed before `promise` settles, so a rejection of it after an abort is still handled.
    promise.then(
      (value) => {
        unsubscribe?.();
        resolve(value);
      },
      (err: unknown) => {
        unsubscribe?.();
        reject(err);
      },
    );
  });
}
