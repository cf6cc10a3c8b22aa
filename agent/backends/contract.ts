/**
 * The one contract every backend implements. Backends only do I/O against their store: the broker
 * above them owns locks, retries, the cache, preconditions and the id filter. A backend never
 * imports broker or http code.
 */
import type { SecretError } from './errors.js';

/** `utf8` values are text; `base64` values are binary, carried base64-encoded. */
export type SecretEncoding = 'utf8' | 'base64';

/** What a secret looks like without its value: safe to list, log and cache in the clear. */
export interface SecretMetadata {
  id: string;
  /** The backend's own version id, as a string (AWS VersionId, Vault version number, file counter). */
  version: string;
  encoding: SecretEncoding;
  description?: string;
  tags?: Record<string, string>;
  /** ISO 8601 timestamps, when the backend knows them. */
  createdAt?: string;
  updatedAt?: string;
}

export interface SecretRecord extends SecretMetadata {
  value: string;
}

/** A secret's state as seen by `describe`, which, unlike `get`, also sees secrets pending deletion. */
export interface SecretDescription extends SecretMetadata {
  /** Set while a recoverable delete keeps the secret hidden for its recovery window. */
  pendingDeletion?: boolean;
}

/** Passed to every call: the retry layer aborts an attempt that runs past its timeout. */
export interface CallOptions {
  signal?: AbortSignal;
  /**
   * Identical on every retry of one broker operation, so a write the backend already applied is
   * not applied twice (AWS ClientRequestToken). Backends without idempotency tokens ignore it.
   */
  requestToken?: string;
}

export interface CreateInput {
  id: string;
  value: string;
  encoding: SecretEncoding;
  description?: string;
  tags?: Record<string, string>;
}

export interface PutInput {
  value: string;
  encoding: SecretEncoding;
  /** Leave undefined to keep the current description / tags. */
  description?: string;
  tags?: Record<string, string>;
  /**
   * The version the broker read under the lock. Backends with a native check-and-set (Vault `cas`)
   * pass it along so a writer outside the broker cannot cause a lost update; others may ignore it.
   */
  ifVersion?: string;
}

export interface DeleteInput {
  /** Permanent delete that frees the id at once; otherwise recoverable for the backend's window. */
  force: boolean;
  ifVersion?: string;
}

export interface ListPageQuery {
  /** Only ids starting with this (a literal prefix of the caller's filter); the backend may ignore it. */
  prefix?: string;
  /** Opaque position from a previous page's `nextCursor`; undefined starts from the beginning. */
  cursor?: string;
  /** A hint: the backend may return fewer or (up to its own page size) more. */
  pageSize: number;
  /**
   * The caller's id filter. A backend that can test ids before reading their metadata (the file
   * store) skips the others; any backend may ignore it, since the broker filters again.
   */
  match?: (id: string) => boolean;
}

export interface ListPage {
  /**
   * Metadata of live secrets (never pending deletion, never values), in a stable order: the same
   * cursor returns the same items while nothing changes, so the broker can resume within a page.
   */
  items: SecretMetadata[];
  nextCursor?: string;
  /**
   * The backend stopped early to bound the work of one request: the broker answers with the items
   * it has and this page's `nextCursor` rather than reading another page.
   */
  truncated?: boolean;
}

/**
 * What a store can do. The broker asks before it acts: a request that needs an ability the store
 * lacks is refused with 400 `invalid_request` naming it, rather than answered as if it had worked.
 */
export interface BackendCapabilities {
  /** A delete without `force` keeps the secret, hidden, for a recovery window. */
  readonly recoverableDelete: boolean;
  /** A recoverably deleted secret can be brought back (`restore`). */
  readonly restore: boolean;
  /** An older version can be read by its version id (`get` with a version). */
  readonly versionReads: boolean;
  /**
   * Versions are stable ids the broker can compare under the lock, so a write conditional on one
   * (If-Match) is honoured. A native check-and-set (Vault `cas`) also guards against writers
   * outside the broker; without one, the broker's lock and check are the guard.
   */
  readonly checkAndSet: boolean;
  /**
   * Several ids are read in one call (`getMany`). Without it a batch read still works: the broker
   * reads the ids with bounded parallel `get`s.
   */
  readonly batchRead: boolean;
}

/** Every ability: what the file, AWS and Vault stores declare. */
export const ALL_CAPABILITIES: BackendCapabilities = Object.freeze({
  recoverableDelete: true,
  restore: true,
  versionReads: true,
  checkAndSet: true,
  batchRead: true,
});

/** One id's answer in a batch read: its record, or the error a `get` of it would have thrown. */
export type BatchReadResult = SecretRecord | SecretError;

export interface SecretBackend {
  /** Its name in the registry (`file`, `aws`, `vault`): used in messages, logs and metrics labels. */
  readonly kind: string;
  readonly capabilities: BackendCapabilities;
  /** Reads the current value, or an older one by version. Secrets pending deletion are `not_found`. */
  get(id: string, version: string | undefined, options?: CallOptions): Promise<SecretRecord>;
  /** Current metadata without the value, including secrets pending deletion. */
  describe(id: string, options?: CallOptions): Promise<SecretDescription>;
  /** `already_exists` if live, `pending_deletion` if a recoverable delete still holds the id. */
  create(input: CreateInput, options?: CallOptions): Promise<SecretMetadata>;
  /** Replaces the value of a live secret; `not_found` otherwise. */
  put(id: string, input: PutInput, options?: CallOptions): Promise<SecretMetadata>;
  delete(id: string, input: DeleteInput, options?: CallOptions): Promise<void>;
  /**
   * Cancels a recoverable delete and returns the secret's metadata. A live secret is left as it is
   * and answered the same way, so a retry of a restore that landed (its answer lost) succeeds; the
   * broker, which checks the state under the lock first, refuses a live one itself. `not_found`
   * when the id is neither live nor pending deletion.
   */
  restore(id: string, options?: CallOptions): Promise<SecretMetadata>;
  /**
   * Reads the current value of several ids (at most 20) in fewer calls than one `get` each; present
   * when `capabilities.batchRead` is. Every id asked for has an entry in the answer.
   */
  getMany?(ids: readonly string[], options?: CallOptions): Promise<Map<string, BatchReadResult>>;
  listPage(query: ListPageQuery, options?: CallOptions): Promise<ListPage>;
  /** Resolves when the backend is authenticated and reachable; throws a SecretError otherwise. */
  ready(options?: CallOptions): Promise<void>;
  close(): Promise<void>;
}
