/**
 * The embedded file store as a {@link SecretBackend}: one encrypted record file per secret in one
 * directory. Reads and writes of one id always go to that id's file (never to a cache), so two
 * broker processes sharing the directory see each other's writes at once.
 */

import { join } from 'node:path';
import type {
  CallOptions,
  CreateInput,
  DeleteInput,
  ListPage,
  ListPageQuery,
  PutInput,
  SecretBackend,
  SecretDescription,
  SecretMetadata,
  SecretRecord,
} from '../contract.js';
import { notFound, SecretError } from '../errors.js';
import { fileBackend } from './definition.js';
import type { StoreKeys } from './key-material.js';
import { PerIdQueue } from './per-id-queue.js';
import { openRecord, recordFileName, sealRecord } from './record-codec.js';
import type { RecordIndex } from './record-index.js';
import { withoutDeletion } from './record-restore.js';
import { ensureStoreCheck } from './store-check.js';
import {
  assertWritableDirectory,
  publishFileExclusive,
  readFileIfExists,
  removeFileDurably,
  storeIoError,
  writeFileAtomic,
} from './store-files.js';
import {
  describeRecord,
  metadataOf,
  newRecord,
  type RecordState,
  readVersion,
  recordState,
  type StoredRecord,
  withDeletion,
  withNewVersion,
} from './stored-record.js';

/** Everything the backend needs, already resolved and checked by `createFileBackend`. */
export interface FileStoreSettings {
  dir: string;
  keys: StoreKeys;
  index: RecordIndex;
  versionsKept: number;
  recoveryWindowDays: number;
  now: () => Date;
}

/** The record of an id as it is on disk now, with its state at the moment it was read. */
interface Current {
  record: StoredRecord | undefined;
  state: RecordState | undefined;
}

/** A retried write whose first attempt already landed carries the same request token. */
function alreadyApplied(record: StoredRecord, options: CallOptions | undefined): boolean {
  return options?.requestToken !== undefined && record.lastRequestToken === options.requestToken;
}

function checkVersion(id: string, record: StoredRecord, ifVersion: string | undefined): void {
  const current = record.versions[record.versions.length - 1]!.version;
  if (ifVersion !== undefined && ifVersion !== current) {
    throw new SecretError('precondition_failed', `secret '${id}' is at version '${current}', not '${ifVersion}'`);
  }
}

export class FileSecretBackend implements SecretBackend {
  readonly kind = fileBackend.name;
  readonly capabilities = fileBackend.capabilities;
  readonly #settings: FileStoreSettings;
  readonly #writes = new PerIdQueue();
  #closed = false;

  constructor(settings: FileStoreSettings) {
    this.#settings = settings;
  }

  async get(id: string, version: string | undefined, options?: CallOptions): Promise<SecretRecord> {
    this.#begin(options);
    const { record, state } = await this.#guard(`read secret '${id}'`, () => this.#read(id));
    if (record === undefined || state !== 'live') throw notFound(id);
    const found = readVersion(record, version);
    if (found === undefined) {
      throw new SecretError('not_found', `version '${version}' of secret '${id}' does not exist`);
    }
    return found;
  }

  async describe(id: string, options?: CallOptions): Promise<SecretDescription> {
    this.#begin(options);
    const { record, state } = await this.#guard(`read secret '${id}'`, () => this.#read(id));
    if (record === undefined || state === 'expired') throw notFound(id);
    return describeRecord(record);
  }

  create(input: CreateInput, options?: CallOptions): Promise<SecretMetadata> {
    const { id } = input;
    return this.#mutate(`create secret '${id}'`, id, options, async ({ record, state }) => {
      if (record !== undefined && state === 'live') {
        if (alreadyApplied(record, options)) return metadataOf(record);
        throw new SecretError('already_exists', `secret '${id}' already exists`);
      }
      if (state === 'pending_deletion') {
        throw new SecretError(
          'pending_deletion',
          `secret '${id}' is pending deletion: force-delete it or wait for its recovery window to end`,
        );
      }
      // An expired record is simply replaced: that is its lazy purge. A new id is published
      // exclusively, so two processes creating it at once cannot both succeed, lock or no lock.
      const created = newRecord(input, this.#settings.now(), options?.requestToken);
      if (!(await this.#write(created, options, record === undefined))) {
        throw new SecretError('already_exists', `secret '${id}' already exists`);
      }
      return metadataOf(created);
    });
  }

  put(id: string, input: PutInput, options?: CallOptions): Promise<SecretMetadata> {
    return this.#mutate(`update secret '${id}'`, id, options, async ({ record, state }) => {
      if (record === undefined || state !== 'live') {
        if (state === 'expired') await this.#remove(id);
        throw notFound(id);
      }
      if (alreadyApplied(record, options)) return metadataOf(record);
      checkVersion(id, record, input.ifVersion);
      const { now, versionsKept } = this.#settings;
      const updated = withNewVersion(record, input, now(), versionsKept, options?.requestToken);
      await this.#write(updated, options);
      return metadataOf(updated);
    });
  }

  delete(id: string, input: DeleteInput, options?: CallOptions): Promise<void> {
    return this.#mutate(`delete secret '${id}'`, id, options, async ({ record, state }) => {
      if (record === undefined || state === 'expired') {
        if (state === 'expired') await this.#remove(id);
        throw notFound(id);
      }
      if (input.force) {
        checkVersion(id, record, input.ifVersion);
        this.#checkNotAborted(options);
        await this.#remove(id);
        return;
      }
      if (state === 'pending_deletion') {
        if (alreadyApplied(record, options)) return;
        throw notFound(id);
      }
      checkVersion(id, record, input.ifVersion);
      const { now, recoveryWindowDays } = this.#settings;
      await this.#write(withDeletion(record, now(), recoveryWindowDays, options?.requestToken), options);
    });
  }

  /** Drops the deletion mark of a record still in its recovery window; an expired one is purged and `not_found`. */
  restore(id: string, options?: CallOptions): Promise<SecretMetadata> {
    return this.#mutate(`restore secret '${id}'`, id, options, async ({ record, state }) => {
      if (record === undefined || state === 'expired') {
        if (state === 'expired') await this.#remove(id);
        throw notFound(id);
      }
      if (state === 'pending_deletion') await this.#write(withoutDeletion(record, options?.requestToken), options);
      return metadataOf(record);
    });
  }

  async listPage(query: ListPageQuery, options?: CallOptions): Promise<ListPage> {
    this.#begin(options);
    return this.#guard('list secrets', () => this.#settings.index.listPage(query, options?.signal));
  }

  async ready(options?: CallOptions): Promise<void> {
    this.#begin(options);
    const { dir, keys } = this.#settings;
    await this.#guard(`use the store directory '${dir}'`, async () => {
      await assertWritableDirectory(dir);
      await ensureStoreCheck(dir, keys);
    });
  }

  /** Waits for writes in flight; later calls fail as unavailable, the answer for a broker shutting down. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#writes.drain();
  }

  #begin(options: CallOptions | undefined): void {
    if (this.#closed) throw new SecretError('backend_unavailable', 'the file store is closed');
    this.#checkNotAborted(options);
  }

  #checkNotAborted(options: CallOptions | undefined): void {
    const signal = options?.signal;
    if (signal?.aborted) {
      throw new SecretError('backend_timeout', 'the file store call was aborted', { cause: signal.reason });
    }
  }

  /** Runs file work, turning any I/O failure into a SecretError that names `what`. */
  async #guard<T>(what: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      throw storeIoError(what, err, this.#settings.dir);
    }
  }

  /** A read-modify-write of one id, serialised with the other writes of that id in this process. */
  async #mutate<T>(
    what: string,
    id: string,
    options: CallOptions | undefined,
    change: (c: Current) => Promise<T>,
  ): Promise<T> {
    this.#begin(options);
    return this.#writes.run(id, () => this.#guard(what, async () => change(await this.#read(id))));
  }

  #path(id: string): string {
    return join(this.#settings.dir, recordFileName(this.#settings.keys, id));
  }

  async #read(id: string): Promise<Current> {
    const { keys, index, now } = this.#settings;
    const fileName = recordFileName(keys, id);
    const sealed = await readFileIfExists(join(this.#settings.dir, fileName));
    if (sealed === undefined) return { record: undefined, state: undefined };
    const record = openRecord(keys, fileName, sealed, `secret '${id}'`);
    index.remember(fileName, record.id);
    return { record, state: recordState(record, now()) };
  }

  /**
   * Seals and stores `record`, replacing its file, or, when `exclusive`, only if no file exists yet.
   * Returns false when an exclusive write found the file already there.
   */
  async #write(record: StoredRecord, options: CallOptions | undefined, exclusive = false): Promise<boolean> {
    // The last moment to honour an abort: past the rename, the write has happened. A close() that
    // started meanwhile waits for this write rather than failing it.
    this.#checkNotAborted(options);
    const { fileName, sealed } = sealRecord(this.#settings.keys, record);
    const path = join(this.#settings.dir, fileName);
    if (exclusive) {
      if (!(await publishFileExclusive(path, sealed))) return false;
    } else {
      await writeFileAtomic(path, sealed);
    }
    this.#settings.index.remember(fileName, record.id);
    return true;
  }

  async #remove(id: string): Promise<void> {
    await removeFileDurably(this.#path(id));
    this.#settings.index.forget(recordFileName(this.#settings.keys, id));
  }
}
