/**
 * Encryption of whole records at rest. File layout: `SBR1` magic (4 bytes), a random 12-byte IV,
 * the AES-256-GCM ciphertext of the record's JSON, the 16-byte auth tag. The file name is bound as
 * additional authenticated data, so a record copied or renamed under another name fails to open.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { SecretError } from '../errors.js';
import type { StoreKeys } from './key-material.js';
import { isStoredRecord, type StoredRecord } from './stored-record.js';

const MAGIC = Buffer.from('SBR1', 'latin1');
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Bytes at the start of every encrypted file that identify one write: magic plus its random IV. */
export const HEADER_BYTES = MAGIC.length + IV_BYTES;

/** Suffix of record files; the store check file and temp files never end with it. */
const RECORD_SUFFIX = '.rec';
const RECORD_FILE_NAME = /^[0-9a-f]{64}\.rec$/;

/** The record file name of `id`: a keyed hash, so the store directory does not reveal ids. */
export function recordFileName(keys: StoreKeys, id: string): string {
  return createHmac('sha256', keys.nameKey).update(id, 'utf8').digest('hex') + RECORD_SUFFIX;
}

/** Whether a directory entry is a record file (and not the check file or a writer's temp file). */
export function isRecordFileName(name: string): boolean {
  return RECORD_FILE_NAME.test(name);
}

/** Encrypts `plaintext` for the file called `fileName`. */
export function sealFile(keys: StoreKeys, fileName: string, plaintext: Buffer): Buffer {
  const iv = randomBytes(IV_BYTES);
  const header = Buffer.concat([MAGIC, iv]);
  const cipher = createCipheriv('aes-256-gcm', keys.recordKey, iv);
  cipher.setAAD(Buffer.concat([MAGIC, Buffer.from(fileName, 'utf8')]));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([header, body, cipher.getAuthTag()]);
}

/**
 * Decrypts a file sealed by {@link sealFile} under the same name, or returns `undefined` when the
 * content is damaged, was renamed, or was sealed with another key (GCM cannot tell these apart).
 */
export function openFile(keys: StoreKeys, fileName: string, sealed: Buffer): Buffer | undefined {
  if (sealed.length < HEADER_BYTES + TAG_BYTES || !sealed.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const iv = sealed.subarray(MAGIC.length, HEADER_BYTES);
  const body = sealed.subarray(HEADER_BYTES, sealed.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', keys.recordKey, iv);
  decipher.setAAD(Buffer.concat([MAGIC, Buffer.from(fileName, 'utf8')]));
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch {
    return undefined;
  }
}

/** Encrypts a record for its file. */
export function sealRecord(keys: StoreKeys, record: StoredRecord): { fileName: string; sealed: Buffer } {
  const fileName = recordFileName(keys, record.id);
  return { fileName, sealed: sealFile(keys, fileName, Buffer.from(JSON.stringify(record), 'utf8')) };
}

/**
 * Decrypts and checks a record file: the id inside must hash to `fileName`. `label` names the
 * record in errors (the id, or the file name while scanning); no content ever goes into a message.
 */
export function openRecord(keys: StoreKeys, fileName: string, sealed: Buffer, label: string): StoredRecord {
  const plaintext = openFile(keys, fileName, sealed);
  if (plaintext === undefined) {
    throw new SecretError(
      'backend_error',
      `file store record of ${label} cannot be decrypted: it is damaged or was written with another key`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(plaintext.toString('utf8'));
  } catch (err) {
    throw new SecretError('backend_error', `file store record of ${label} is not valid JSON`, { cause: err });
  }
  if (!isStoredRecord(parsed) || recordFileName(keys, parsed.id) !== fileName) {
    throw new SecretError('backend_error', `file store record of ${label} has an unexpected shape`);
  }
  return parsed;
}
