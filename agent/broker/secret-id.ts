/**
 * The id and value rules of docs/design.md (their bounds: secret-limits.ts), checked once in the
 * broker so every entry point (HTTP today, anything else later) gets the same answer.
 */
import { Buffer } from 'node:buffer';
import type { SecretEncoding } from '../backends/contract.js';
import { SecretError } from '../backends/errors.js';
import {
  BASE64_PATTERN,
  ID_CHARACTERS,
  MAX_DESCRIPTION_LENGTH,
  MAX_ID_LENGTH,
  MAX_TAG_KEY_LENGTH,
  MAX_TAG_VALUE_LENGTH,
  MAX_TAGS,
  MAX_VALUE_BYTES,
} from '../secret-limits.js';

const ID_ALPHABET = new RegExp(`^[${ID_CHARACTERS}]+$`);
const BASE64 = new RegExp(BASE64_PATTERN);

/** Throws 400 `invalid_id` unless `id` is 1-512 characters of the AWS name alphabet with clean segments. */
export function assertValidId(id: string): void {
  const problem = idProblem(id);
  if (problem) throw new SecretError('invalid_id', `invalid secret id: ${problem}`);
}

/** Whether `id` follows the id rules, for a caller that answers an invalid id some other way. */
export function isValidId(id: string): boolean {
  return idProblem(id) === undefined;
}

function idProblem(id: string): string | undefined {
  if (id.length === 0) return 'it is empty';
  if (id.length > MAX_ID_LENGTH) return `it is longer than ${MAX_ID_LENGTH} characters`;
  if (!ID_ALPHABET.test(id)) return 'allowed characters are A-Z a-z 0-9 / _ + = . @ -';
  if (id.startsWith('/') || id.endsWith('/')) return 'it may not start or end with /';
  if (id.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    return "it may not contain '//' or a '.' or '..' segment";
  }
  return undefined;
}

/** Throws 400 `invalid_request` for a description or tags outside the bounds every backend can store. */
export function assertValidMetadata(metadata: { description?: string; tags?: Record<string, string> }): void {
  const { description, tags } = metadata;
  if (description !== undefined && description.length > MAX_DESCRIPTION_LENGTH) {
    throw new SecretError('invalid_request', `description is longer than ${MAX_DESCRIPTION_LENGTH} characters`);
  }
  if (tags === undefined) return;
  const problem = tagsProblem(tags);
  if (problem) throw new SecretError('invalid_request', `invalid tags: ${problem}`);
}

function tagsProblem(tags: Record<string, string>): string | undefined {
  const entries = Object.entries(tags);
  if (entries.length > MAX_TAGS) return `at most ${MAX_TAGS} tags are allowed, got ${entries.length}`;
  for (const [key, value] of entries) {
    if (key.length === 0) return 'a tag key is empty';
    if (key.length > MAX_TAG_KEY_LENGTH) return `a tag key is longer than ${MAX_TAG_KEY_LENGTH} characters`;
    if (typeof value !== 'string') return `the value of tag '${key}' is not a string`;
    if (value.length > MAX_TAG_VALUE_LENGTH) {
      return `the value of tag '${key}' is longer than ${MAX_TAG_VALUE_LENGTH} characters`;
    }
  }
  return undefined;
}

/** Throws 413 for a value over 64 KiB and 400 for a `base64` value that is not base64. */
export function assertValidValue(value: string, encoding: SecretEncoding): void {
  if (encoding === 'base64') {
    if (!BASE64.test(value)) throw new SecretError('invalid_request', 'value is not valid base64 (encoding: base64)');
    if (Buffer.byteLength(value, 'base64') > MAX_VALUE_BYTES) {
      throw new SecretError('payload_too_large', `value is larger than ${MAX_VALUE_BYTES} bytes`);
    }
    return;
  }
  if (Buffer.byteLength(value, 'utf8') > MAX_VALUE_BYTES) {
    throw new SecretError('payload_too_large', `value is larger than ${MAX_VALUE_BYTES} bytes`);
  }
}
