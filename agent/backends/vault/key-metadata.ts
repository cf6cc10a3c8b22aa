/**
 * How the broker's fields live in KV v2 metadata, and what a key's metadata says about its state.
 *
 * `custom_metadata` is a flat string map, so the broker uses these keys in it:
 * - `description`: the secret's description;
 * - `tag.<name>`: one key per tag;
 * - `encoding`: `base64` when the current value is binary (absent for text), so that describe and
 *   list, which read metadata only, can report it. The data itself also carries `encoding`, which is
 *   what a read trusts.
 * Any other key (set by people or tools outside the broker) is kept as it is on every write.
 */
import type { SecretDescription, SecretEncoding, SecretMetadata } from '../contract.js';
import type { KvKeyMetadata } from './kv-store.js';

export const DESCRIPTION_KEY = 'description';
export const TAG_PREFIX = 'tag.';
export const ENCODING_KEY = 'encoding';

/** The broker's fields as stored in `custom_metadata`. */
export interface BrokerFields {
  description?: string;
  tags?: Record<string, string>;
  encoding: SecretEncoding;
}

export function readBrokerFields(custom: Record<string, string> | null | undefined): BrokerFields {
  const fields: BrokerFields = { encoding: custom?.[ENCODING_KEY] === 'base64' ? 'base64' : 'utf8' };
  if (!custom) return fields;
  const description = custom[DESCRIPTION_KEY];
  if (description !== undefined) fields.description = description;
  const tags = Object.entries(custom).filter(([key]) => key.startsWith(TAG_PREFIX));
  if (tags.length > 0)
    fields.tags = Object.fromEntries(tags.map(([key, value]) => [key.slice(TAG_PREFIX.length), value]));
  return fields;
}

/**
 * The `custom_metadata` to store after a write: foreign keys kept, the encoding marker set, and the
 * description and tags replaced when given (left as they were when undefined).
 */
export function mergeBrokerFields(
  existing: Record<string, string> | null | undefined,
  update: Partial<BrokerFields> & { encoding: SecretEncoding },
): Record<string, string> {
  const current = readBrokerFields(existing);
  const merged: Record<string, string> = {};
  for (const [key, value] of Object.entries(existing ?? {})) {
    if (key !== DESCRIPTION_KEY && key !== ENCODING_KEY && !key.startsWith(TAG_PREFIX)) merged[key] = value;
  }
  const description = update.description ?? current.description;
  if (description !== undefined && description !== '') merged[DESCRIPTION_KEY] = description;
  for (const [name, value] of Object.entries(update.tags ?? current.tags ?? {})) merged[`${TAG_PREFIX}${name}`] = value;
  if (update.encoding === 'base64') merged[ENCODING_KEY] = 'base64';
  return merged;
}

export function sameStringMap(a: Record<string, string> | null | undefined, b: Record<string, string>): boolean {
  const left = Object.entries(a ?? {});
  return left.length === Object.keys(b).length && left.every(([key, value]) => b[key] === value);
}

/**
 * - `live`: the current version exists and is not deleted;
 * - `pending_deletion`: the current version is soft-deleted (recoverable with undelete);
 * - `absent`: no metadata, no version written yet, or the current version destroyed: the id is free.
 * A `deletion_time` in the future (set by `delete_version_after`) is not a deletion yet.
 */
export type KeyState = 'live' | 'pending_deletion' | 'absent';

export function keyState(meta: KvKeyMetadata | undefined, now: number): KeyState {
  if (!meta?.current_version) return 'absent';
  const current = meta.versions?.[String(meta.current_version)];
  if (!current || current.destroyed) return 'absent';
  if (current.deletion_time && Date.parse(current.deletion_time) <= now) return 'pending_deletion';
  return 'live';
}

/** The broker's view of a key from its metadata alone (no value). */
export function describeKey(id: string, meta: KvKeyMetadata, now: number): SecretDescription {
  const description: SecretDescription = { ...metadataOf(id, meta) };
  if (keyState(meta, now) === 'pending_deletion') description.pendingDeletion = true;
  return description;
}

export function metadataOf(id: string, meta: KvKeyMetadata): SecretMetadata {
  return {
    id,
    version: String(meta.current_version),
    ...readBrokerFields(meta.custom_metadata),
    ...(knownTime(meta.created_time) ? { createdAt: meta.created_time } : {}),
    ...(knownTime(meta.updated_time) ? { updatedAt: meta.updated_time } : {}),
  };
}

/** '' or Go's zero time ("0001-01-01T00:00:00Z") mean "not recorded". */
function knownTime(time: string | undefined): boolean {
  return time !== undefined && Date.parse(time) > 0;
}
