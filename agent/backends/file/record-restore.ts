/**
 * Restoring a record from a recoverable delete. A recoverable delete only marks the record
 * (`deletion`, see `withDeletion`): its versions stay as they were, so dropping the mark brings the
 * secret back at the version it had, until the recovery window ends and the record counts as gone.
 */
import type { StoredRecord } from './stored-record.js';

/** The record with its deletion mark dropped: live again, at the version it had when deleted. */
export function withoutDeletion(record: StoredRecord, requestToken: string | undefined): StoredRecord {
  const { deletion: _deletion, lastRequestToken: _token, ...rest } = record;
  return requestToken === undefined ? rest : { ...rest, lastRequestToken: requestToken };
}
