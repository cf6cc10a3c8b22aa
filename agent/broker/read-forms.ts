/**
 * The shapes of the broker's conditional and batch reads: what a caller asks (`If-None-Match`, a
 * list of ids) and what it gets back besides a plain read.
 */
import { SecretError } from '../backends/errors.js';
import { BATCH_READ_MAX_IDS } from '../secret-limits.js';
import type { CachedRead, CacheStatus } from './read-through-cache.js';
import { assertValidId } from './secret-id.js';

export { BATCH_READ_MAX_IDS } from '../secret-limits.js';
/** Backend reads in flight at once for a batch on a backend without `getMany`. */
export const BATCH_READ_CONCURRENCY = 4;

/** What `If-None-Match` names: any current version (`*`) or one version. */
export type VersionCondition = { any: true } | { version: string };

/** A conditional read whose version matched: the caller already holds it (HTTP 304). */
export class NotModified {
  constructor(
    /** The current version, quoted as the `ETag` header carries it. */
    readonly etag: string,
    readonly cache: CacheStatus,
    readonly ageSeconds: number,
  ) {}
}

/** One id of a batch read: its read, or the error a read of it alone would have met. */
export type BatchReadItem = { id: string; read: CachedRead } | { id: string; error: SecretError };

/** 1 to 20 valid ids, each once: a repeated id would be answered twice for nothing. */
export function checkBatch(ids: readonly string[]): void {
  if (ids.length < 1 || ids.length > BATCH_READ_MAX_IDS) {
    throw new SecretError('invalid_request', `a batch read takes 1 to ${BATCH_READ_MAX_IDS} ids, got ${ids.length}`);
  }
  for (const id of ids) assertValidId(id);
  if (new Set(ids).size !== ids.length) throw new SecretError('invalid_request', 'a batch read takes each id once');
}
