/**
 * The embedded encrypted file backend: the default store, for a laptop or a single pod, with no
 * cloud account. See {@link createFileBackend}.
 */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { SecretBackend } from '../contract.js';
import { FileSecretBackend } from './file-backend.js';
import { deriveStoreKeys, loadOrCreateMasterKey } from './key-material.js';
import { isRecordFileName } from './record-codec.js';
import { DEFAULT_SCAN_LIMITS, type ListScanLimits, RecordIndex } from './record-index.js';
import { ensureStoreCheck } from './store-check.js';

export { isWrongStoreKey } from './store-check.js';

import { refuseLinkedRecords, removeAbandonedTempFiles, storeIoError } from './store-files.js';

/** A temp file this old was left by a writer that crashed: no live write takes that long. */
const ABANDONED_TEMP_FILE_MS = 10 * 60_000;

export interface FileBackendOptions {
  /** Store directory; created (mode 0700) if missing. */
  dir: string;
  /** 32-byte AES-256 master key; when given, the key file is not used. */
  key?: Buffer;
  /** Key file, read when `key` is not given, and created (mode 0600) with a random key if missing. */
  keyFile: string;
  /** Versions of each secret kept, the current one included (at least 2: every backend keeps the previous one). */
  versionsKept: number;
  /** Days a recoverable delete keeps a secret before it counts as gone. */
  recoveryWindowDays: number;
  /** Clock, injectable for tests of the recovery window. */
  now?: () => Date;
  /** Bounds on listings (ids examined per request, listings scanning at once); the defaults suit 50,000 secrets. */
  listScan?: Partial<ListScanLimits>;
}

/**
 * Opens (or creates) the encrypted file store in `options.dir` and returns it as a
 * {@link SecretBackend}. Fails at once when the key has the wrong size or does not open the store.
 *
 * @example
 * ```ts
 * const backend = await createFileBackend({
 *   dir: '.secrets-broker/store',
 *   keyFile: '.secrets-broker/store.key',
 *   versionsKept: 5,
 *   recoveryWindowDays: 7,
 * });
 * await backend.create({ id: 'prod/db', value: 's3cret', encoding: 'utf8' });
 * ```
 */
export async function createFileBackend(options: FileBackendOptions): Promise<SecretBackend> {
  const dir = resolve(options.dir);
  const now = options.now ?? (() => new Date());
  const keys = deriveStoreKeys(await loadOrCreateMasterKey(options.key, resolve(options.keyFile)));
  const index = new RecordIndex(dir, keys, { ...DEFAULT_SCAN_LIMITS, ...options.listScan });
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await ensureStoreCheck(dir, keys);
    await removeAbandonedTempFiles(dir, ABANDONED_TEMP_FILE_MS, now().getTime());
    // The index of ids is built by the first listing, not here: apps that read by id never pay for
    // it (start-up time, memory), and one damaged record cannot keep the whole store from opening.
    // A record path that is a symbolic link is still refused at start.
    await refuseLinkedRecords(dir, isRecordFileName);
  } catch (err) {
    throw storeIoError(`open the store directory '${dir}'`, err, dir);
  }
  return new FileSecretBackend({
    dir,
    keys,
    index,
    versionsKept: options.versionsKept,
    recoveryWindowDays: options.recoveryWindowDays,
    now,
  });
}
