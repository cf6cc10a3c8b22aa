/**
 * The bounds every secret obeys, whatever the backend: the broker checks them (secret-id.ts) and the
 * request schemas and OpenAPI document state them (http/schemas.ts), from these same constants.
 * They are AWS Secrets Manager's limits, applied everywhere so secrets can move between backends.
 */

export const MAX_ID_LENGTH = 512;
/** Characters an id may use: the AWS secret-name alphabet. */
export const ID_CHARACTERS = 'A-Za-z0-9/_+=.@-';
export const MAX_VALUE_BYTES = 65_536;
export const MAX_DESCRIPTION_LENGTH = 2048;
/** AWS allows 50 tags, keys of 1-128 and values of 0-256 characters. */
export const MAX_TAGS = 50;
export const MAX_TAG_KEY_LENGTH = 128;
export const MAX_TAG_VALUE_LENGTH = 256;
/** The most ids one batch read takes (AWS BatchGetSecretValue's own limit). */
export const BATCH_READ_MAX_IDS = 20;
/** Padded standard base64, the form of a `base64` value. */
export const BASE64_PATTERN = '^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$';
