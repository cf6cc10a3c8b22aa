/**
 * The plaintext shape of one secret in the file store and its pure state changes. Everything here
 * (value, description, tags, versions, timestamps, deletion state) is encrypted as a whole before
 * it touches disk.
 */
import type {
  CreateInput,
  PutInput,
  SecretDescription,
  SecretEncoding,
  SecretMetadata,
  SecretRecord,
} from '../contract.js';

const DAY_MS = 86_400_000;

export interface StoredVersion {
  /** The counter as a string: "1", "2", ... */
  version: string;
  value: string;
  encoding: SecretEncoding;
  /** When this version was written: the secret's `updatedAt` while it is current. */
  createdAt: string;
}

export interface StoredDeletion {
  deletedAt: string;
  /** End of the recovery window; from then on the record counts as gone. */
  purgeAfter: string;
}

export interface StoredRecord {
  format: 1;
  id: string;
  description?: string;
  tags?: Record<string, string>;
  createdAt: string;
  /** The next version counter; only grows during the secret's life. */
  nextVersion: number;
  /** Kept versions, oldest first; the last one is current. Never empty. */
  versions: StoredVersion[];
  deletion?: StoredDeletion;
  /** Request token of the last write, so a retry of a write that already landed is not applied twice. */
  lastRequestToken?: string;
}

/** Where a record stands at a given moment. */
export type RecordState = 'live' | 'pending_deletion' | 'expired';

const isString = (value: unknown): value is string => typeof value === 'string';
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;

function isStoredVersion(value: unknown): value is StoredVersion {
  return (
    isObject(value) &&
    isString(value.version) &&
    isString(value.value) &&
    (value.encoding === 'utf8' || value.encoding === 'base64') &&
    isString(value.createdAt)
  );
}

/** Checks a decrypted record before trusting it: a damaged or foreign record must not crash callers. */
export function isStoredRecord(value: unknown): value is StoredRecord {
  if (!isObject(value) || value.format !== 1 || !isString(value.id) || !isString(value.createdAt)) return false;
  if (typeof value.nextVersion !== 'number' || !Array.isArray(value.versions) || value.versions.length === 0) {
    return false;
  }
  if (!value.versions.every(isStoredVersion)) return false;
  if (value.description !== undefined && !isString(value.description)) return false;
  if (value.tags !== undefined && !(isObject(value.tags) && Object.values(value.tags).every(isString))) return false;
  const deletion = value.deletion;
  return (
    deletion === undefined || (isObject(deletion) && isString(deletion.deletedAt) && isString(deletion.purgeAfter))
  );
}

/** The version a plain read returns. */
export function currentVersion(record: StoredRecord): StoredVersion {
  return record.versions[record.versions.length - 1]!;
}

/** Live, hidden by a recoverable delete, or past its recovery window (then it counts as gone). */
export function recordState(record: StoredRecord, now: Date): RecordState {
  if (record.deletion === undefined) return 'live';
  return Date.parse(record.deletion.purgeAfter) <= now.getTime() ? 'expired' : 'pending_deletion';
}

/** Metadata of one version of the record (the current one by default), without the value. */
export function metadataOf(record: StoredRecord, version: StoredVersion = currentVersion(record)): SecretMetadata {
  const metadata: SecretMetadata = {
    id: record.id,
    version: version.version,
    encoding: version.encoding,
    createdAt: record.createdAt,
    updatedAt: version.createdAt,
  };
  if (record.description !== undefined) metadata.description = record.description;
  if (record.tags !== undefined) metadata.tags = { ...record.tags };
  return metadata;
}

/** What `describe` reports: the current metadata, flagged while a recoverable delete holds the id. */
export function describeRecord(record: StoredRecord): SecretDescription {
  const description: SecretDescription = metadataOf(record);
  if (record.deletion !== undefined) description.pendingDeletion = true;
  return description;
}

/** One kept version with its value, or `undefined` when it was never written or has been pruned. */
export function readVersion(record: StoredRecord, version: string | undefined): SecretRecord | undefined {
  const stored = version === undefined ? currentVersion(record) : record.versions.find((v) => v.version === version);
  if (stored === undefined) return undefined;
  return { ...metadataOf(record, stored), value: stored.value };
}

/** A fresh record at version "1". */
export function newRecord(input: CreateInput, now: Date, requestToken: string | undefined): StoredRecord {
  const at = now.toISOString();
  const record: StoredRecord = {
    format: 1,
    id: input.id,
    createdAt: at,
    nextVersion: 2,
    versions: [{ version: '1', value: input.value, encoding: input.encoding, createdAt: at }],
  };
  if (input.description !== undefined) record.description = input.description;
  if (input.tags !== undefined) record.tags = { ...input.tags };
  if (requestToken !== undefined) record.lastRequestToken = requestToken;
  return record;
}

/**
 * The record after a put: a new current version, the oldest versions beyond `versionsKept` dropped,
 * description and tags replaced only when the input carries them.
 */
export function withNewVersion(
  record: StoredRecord,
  input: PutInput,
  now: Date,
  versionsKept: number,
  requestToken: string | undefined,
): StoredRecord {
  const added: StoredVersion = {
    version: String(record.nextVersion),
    value: input.value,
    encoding: input.encoding,
    createdAt: now.toISOString(),
  };
  const next: StoredRecord = {
    ...record,
    nextVersion: record.nextVersion + 1,
    versions: [...record.versions, added].slice(-versionsKept),
  };
  if (input.description !== undefined) next.description = input.description;
  if (input.tags !== undefined) next.tags = { ...input.tags };
  if (requestToken === undefined) delete next.lastRequestToken;
  else next.lastRequestToken = requestToken;
  return next;
}

/** The record after a recoverable delete: hidden now, gone once the window has passed. */
export function withDeletion(
  record: StoredRecord,
  now: Date,
  recoveryWindowDays: number,
  requestToken: string | undefined,
): StoredRecord {
  const deletion: StoredDeletion = {
    deletedAt: now.toISOString(),
    purgeAfter: new Date(now.getTime() + recoveryWindowDays * DAY_MS).toISOString(),
  };
  const next: StoredRecord = { ...record, deletion };
  if (requestToken === undefined) delete next.lastRequestToken;
  else next.lastRequestToken = requestToken;
  return next;
}
