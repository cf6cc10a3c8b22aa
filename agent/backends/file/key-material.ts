/**
 * The file store's master key: given in config, read from the key file, or generated into the key
 * file on first start. Two sub-keys are derived from it so that the record cipher and the keyed
 * hash of file names never share a key.
 */
import { hkdfSync, randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SecretError } from '../errors.js';
import { publishFileExclusive, readFileIfExists, storeIoError } from './store-files.js';

/** AES-256 needs exactly this many key bytes. */
export const KEY_BYTES = 32;

/** A base64 text form of a 32-byte key, with optional surrounding whitespace (a trailing newline). */
const BASE64_KEY = /^\s*([A-Za-z0-9+/]{43}=)\s*$/;

/** The keys the store actually uses, both derived from the master key. */
export interface StoreKeys {
  /** AES-256-GCM key of every record and of the store check file. */
  readonly recordKey: Buffer;
  /** HMAC-SHA256 key that turns an id into its record file name. */
  readonly nameKey: Buffer;
}

/** Derives independent sub-keys (HKDF-SHA256) so a key serves exactly one purpose. */
export function deriveStoreKeys(masterKey: Buffer): StoreKeys {
  const derive = (purpose: string) =>
    Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), `secrets-broker file store ${purpose} v1`, KEY_BYTES));
  return { recordKey: derive('record key'), nameKey: derive('file name key') };
}

/**
 * Parses key file content: either 32 raw bytes or the base64 text of 32 bytes (what this store
 * writes, so an operator can copy it into SECRETS_BROKER_FILE_KEY).
 */
function parseKeyFile(content: Buffer, keyFile: string): Buffer {
  if (content.length === KEY_BYTES) return content;
  const text = BASE64_KEY.exec(content.toString('latin1'));
  if (text?.[1] !== undefined) return Buffer.from(text[1], 'base64');
  throw new SecretError(
    'internal',
    `file store key file '${keyFile}' holds ${content.length} bytes; it must hold a ${KEY_BYTES}-byte key, ` +
      `raw or as base64 text`,
  );
}

/**
 * Returns the master key: `key` when given, else the key file's content. A missing key file is
 * created with a fresh random key (mode 0600); when two processes start together, one creates it
 * and the other reads the winner's key, so both open the same store.
 */
export async function loadOrCreateMasterKey(key: Buffer | undefined, keyFile: string): Promise<Buffer> {
  if (key !== undefined) {
    if (key.length !== KEY_BYTES) {
      throw new SecretError('internal', `file store key must be ${KEY_BYTES} bytes, got ${key.length}`);
    }
    return key;
  }
  try {
    const existing = await readFileIfExists(keyFile);
    if (existing !== undefined) return parseKeyFile(existing, keyFile);
    await mkdir(dirname(keyFile), { recursive: true, mode: 0o700 });
    const fresh = randomBytes(KEY_BYTES);
    if (await publishFileExclusive(keyFile, Buffer.from(`${fresh.toString('base64')}\n`), 0o600)) return fresh;
    // Another process created the key file between our read and our publish: use its key.
    const winner = await readFileIfExists(keyFile);
    if (winner === undefined) throw new SecretError('backend_error', `file store key file '${keyFile}' vanished`);
    return parseKeyFile(winner, keyFile);
  } catch (err) {
    throw storeIoError(`read or create the key file '${keyFile}'`, err);
  }
}
