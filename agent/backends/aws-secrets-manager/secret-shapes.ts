/**
 * Conversions between Secrets Manager's shapes and the backend contract's: values and their
 * encoding, tags, versions, timestamps. Pure functions, no I/O.
 */
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import type { DescribeSecretResponse, SecretListEntry, Tag } from '@aws-sdk/client-secrets-manager';
import type { SecretDescription, SecretEncoding, SecretMetadata } from '../contract.js';

/** The staging label AWS moves to each new version: "the current value". */
export const CURRENT_STAGE = 'AWSCURRENT';

/** AWS accepts VersionIds and ClientRequestTokens of 32-64 characters; UUIDs fit. */
const VERSION_ID = /^[A-Za-z0-9-]{32,64}$/;

/** The characters AWS accepts in a `name` filter value (a leading `!` would negate it). */
const NAME_FILTER_VALUE = /^[a-zA-Z0-9 :_@/+=.-]{1,512}$/;

/** The value fields of a write: text goes in SecretString, binary in SecretBinary. */
export function valueFields(
  value: string,
  encoding: SecretEncoding,
): { SecretString: string } | { SecretBinary: Buffer } {
  return encoding === 'base64' ? { SecretBinary: Buffer.from(value, 'base64') } : { SecretString: value };
}

/** Reads a GetSecretValue answer back into a value and its encoding. */
export function readValue(answer: { SecretString?: string; SecretBinary?: Uint8Array }): {
  value: string;
  encoding: SecretEncoding;
} {
  if (answer.SecretBinary !== undefined) {
    return { value: Buffer.from(answer.SecretBinary).toString('base64'), encoding: 'base64' };
  }
  return { value: answer.SecretString ?? '', encoding: 'utf8' };
}

/** True when `version` could be an AWS VersionId; anything else cannot exist, so it is `not_found`. */
export function isVersionId(version: string): boolean {
  return VERSION_ID.test(version);
}

/**
 * The ClientRequestToken for a broker request token. A token AWS would refuse (too short, odd
 * characters) is replaced by a hash of itself, which stays identical across retries all the same.
 */
export function clientRequestToken(requestToken: string | undefined): string | undefined {
  if (requestToken === undefined || VERSION_ID.test(requestToken)) return requestToken;
  return createHash('sha256').update(requestToken).digest('hex');
}

/** The server-side `name` filter for a prefix, or undefined when AWS could not express it. */
export function nameFilter(prefix: string | undefined): { Key: 'name'; Values: string[] }[] | undefined {
  if (!prefix || !NAME_FILTER_VALUE.test(prefix)) return undefined;
  return [{ Key: 'name', Values: [prefix] }];
}

export function toAwsTags(tags: Record<string, string> | undefined): Tag[] | undefined {
  if (tags === undefined) return undefined;
  return Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
}

export function fromAwsTags(tags: Tag[] | undefined): Record<string, string> | undefined {
  if (tags === undefined || tags.length === 0) return undefined;
  const result: Record<string, string> = {};
  for (const tag of tags) if (tag.Key !== undefined) result[tag.Key] = tag.Value ?? '';
  return result;
}

/** Which tags to set and which keys to remove so that `current` becomes `wanted`. */
export function tagChanges(
  current: Record<string, string> | undefined,
  wanted: Record<string, string>,
): { set: Record<string, string>; remove: string[] } {
  const have = current ?? {};
  const set: Record<string, string> = {};
  for (const [key, value] of Object.entries(wanted)) if (have[key] !== value) set[key] = value;
  const remove = Object.keys(have).filter((key) => !(key in wanted));
  return { set, remove };
}

/** The version holding AWSCURRENT; '' for a secret created outside the broker without any value. */
export function currentVersion(stages: Record<string, string[]> | undefined): string {
  for (const [version, labels] of Object.entries(stages ?? {})) if (labels.includes(CURRENT_STAGE)) return version;
  return '';
}

/**
 * Metadata from DescribeSecret. `encoding` is always reported as `utf8`: AWS tells whether a value
 * is binary only when the value itself is read, and the broker does not hide markers in tags.
 */
export function describedSecret(id: string, answer: DescribeSecretResponse): SecretDescription {
  return {
    ...metadataOf(id, answer.VersionIdsToStages, answer),
    ...(answer.DeletedDate ? { pendingDeletion: true } : {}),
  };
}

/** Metadata of one ListSecrets entry; `encoding` is `utf8` for the same reason as in describe. */
export function listedSecret(entry: SecretListEntry): SecretMetadata {
  return metadataOf(entry.Name ?? '', entry.SecretVersionsToStages, entry);
}

function metadataOf(
  id: string,
  stages: Record<string, string[]> | undefined,
  fields: { Description?: string; Tags?: Tag[]; CreatedDate?: Date; LastChangedDate?: Date },
): SecretMetadata {
  const tags = fromAwsTags(fields.Tags);
  return {
    id,
    version: currentVersion(stages),
    encoding: 'utf8',
    ...(fields.Description ? { description: fields.Description } : {}),
    ...(tags ? { tags } : {}),
    ...(fields.CreatedDate ? { createdAt: fields.CreatedDate.toISOString() } : {}),
    ...(fields.LastChangedDate ? { updatedAt: fields.LastChangedDate.toISOString() } : {}),
  };
}
