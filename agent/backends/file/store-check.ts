/**
 * The store check file: a small record of known, non-secret content sealed with the store's key.
 * Opening it proves at start (and in `ready()`) that the configured key is the one the store was
 * written with, before any secret is read or written with a wrong key.
 */
import { join } from 'node:path';
import { SecretError } from '../errors.js';
import type { StoreKeys } from './key-material.js';
import { openFile, sealFile } from './record-codec.js';
import { publishFileExclusive, readFileIfExists } from './store-files.js';

const CHECK_FILE_NAME = 'store.check';
const CHECK_CONTENT = JSON.stringify({ format: 1, purpose: 'secrets-broker file store' });

/** The failures that mean "this key is not the store's", told apart from I/O failures at start. */
const wrongKeyErrors = new WeakSet<Error>();

function wrongKey(dir: string): SecretError {
  const error = new SecretError(
    'backend_error',
    `the file store key does not open the store in '${dir}': the key is wrong or '${CHECK_FILE_NAME}' is damaged`,
  );
  wrongKeyErrors.add(error);
  return error;
}

/** True for the failure of a key that does not open the store: at start, a setting to change. */
export function isWrongStoreKey(err: unknown): boolean {
  return err instanceof Error && wrongKeyErrors.has(err);
}

/**
 * Verifies the check file with `keys`, creating it first in a new store. Of two processes creating
 * it together, one wins and the other verifies the winner's file, so two different keys can never
 * both claim one store.
 */
export async function ensureStoreCheck(dir: string, keys: StoreKeys): Promise<void> {
  const path = join(dir, CHECK_FILE_NAME);
  let sealed = await readFileIfExists(path);
  if (sealed === undefined) {
    const fresh = sealFile(keys, CHECK_FILE_NAME, Buffer.from(CHECK_CONTENT, 'utf8'));
    if (await publishFileExclusive(path, fresh)) return;
    sealed = await readFileIfExists(path);
  }
  if (sealed === undefined || openFile(keys, CHECK_FILE_NAME, sealed)?.toString('utf8') !== CHECK_CONTENT) {
    throw wrongKey(dir);
  }
}
