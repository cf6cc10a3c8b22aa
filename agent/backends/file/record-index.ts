/**
 * The in-memory index behind `listPage`: file name -> id and metadata (never values). Record files
 * are named by a keyed hash of their id, so a name stands for the same id forever; only the content
 * changes. Each cached entry remembers the header (magic + random IV) of the file it came from, and
 * every write has a fresh IV, so comparing a few header bytes tells whether another process has
 * rewritten the record since. Listing re-reads the directory every time, which makes records that
 * another broker process created or removed visible at once.
 */
import { join } from 'node:path';
import type { ListPage, ListPageQuery, SecretMetadata } from '../contract.js';
import { SecretError } from '../errors.js';
import type { StoreKeys } from './key-material.js';
import { HEADER_BYTES, isRecordFileName, openRecord } from './record-codec.js';
import { listFileNames, readFileHead, readFileIfExists } from './store-files.js';
import { metadataOf, type StoredRecord } from './stored-record.js';

/** How many files are read at once while scanning or refreshing. */
const READ_CONCURRENCY = 32;

interface IndexEntry {
  id: string;
  /** Header of the file the metadata was read from: it changes with every write. */
  head: Buffer;
  metadata: SecretMetadata;
  /** False while a recoverable delete hides the record (and after its window). */
  live: boolean;
}

/** Encodes the last id of a page as an opaque cursor. */
export function encodeCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

/** Decodes a cursor from {@link encodeCursor}; anything else is an `invalid_request`. */
export function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (id.length === 0 || encodeCursor(id) !== cursor) {
    throw new SecretError('invalid_request', 'the list cursor is not valid');
  }
  return id;
}

/** A copy a caller may change without changing the index. */
function copyMetadata(metadata: SecretMetadata): SecretMetadata {
  return metadata.tags === undefined ? { ...metadata } : { ...metadata, tags: { ...metadata.tags } };
}

/** Runs `work` over `items`, at most {@link READ_CONCURRENCY} at a time, keeping the order of results. */
async function mapConcurrently<T, R>(items: readonly T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let start = 0; start < items.length; start += READ_CONCURRENCY) {
    results.push(...(await Promise.all(items.slice(start, start + READ_CONCURRENCY).map(work))));
  }
  return results;
}

export class RecordIndex {
  readonly #dir: string;
  readonly #keys: StoreKeys;
  readonly #entries = new Map<string, IndexEntry>();

  constructor(dir: string, keys: StoreKeys) {
    this.#dir = dir;
    this.#keys = keys;
  }

  /** Records what this process just wrote, so the next listing need not decrypt it again. */
  remember(fileName: string, sealed: Buffer, record: StoredRecord): void {
    this.#entries.set(fileName, {
      id: record.id,
      head: Buffer.from(sealed.subarray(0, HEADER_BYTES)),
      metadata: metadataOf(record),
      live: record.deletion === undefined,
    });
  }

  /** Drops a record that was removed. */
  forget(fileName: string): void {
    this.#entries.delete(fileName);
  }

  /** Brings the set of known files in line with the directory, decrypting files not seen before. */
  async scan(): Promise<void> {
    const names = new Set(await listFileNames(this.#dir, isRecordFileName));
    for (const name of this.#entries.keys()) if (!names.has(name)) this.#entries.delete(name);
    const unknown = [...names].filter((name) => !this.#entries.has(name));
    await mapConcurrently(unknown, (name) => this.#load(name));
  }

  /** Reads and decrypts one record file into the index; a file deleted meanwhile is dropped. */
  async #load(fileName: string): Promise<IndexEntry | undefined> {
    const sealed = await readFileIfExists(join(this.#dir, fileName));
    if (sealed === undefined) {
      this.#entries.delete(fileName);
      return undefined;
    }
    this.remember(fileName, sealed, openRecord(this.#keys, fileName, sealed, `file '${fileName}'`));
    return this.#entries.get(fileName);
  }

  /** The entry for `fileName` as the file is now: the cached one if the file was not rewritten. */
  async #fresh(fileName: string): Promise<IndexEntry | undefined> {
    const cached = this.#entries.get(fileName);
    const head = await readFileHead(join(this.#dir, fileName), HEADER_BYTES);
    if (head === undefined) {
      this.#entries.delete(fileName);
      return undefined;
    }
    if (cached?.head.equals(head)) return cached;
    return this.#load(fileName);
  }

  /**
   * One page of live secrets, sorted by id, after the cursor's id and starting with `prefix`.
   * `nextCursor` is set only when at least one more live secret follows.
   */
  async listPage(query: ListPageQuery): Promise<ListPage> {
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    const pageSize = Math.max(1, Math.floor(query.pageSize));
    await this.scan();
    const candidates = [...this.#entries]
      .filter(([, entry]) => (after === undefined || entry.id > after) && entry.id.startsWith(query.prefix ?? ''))
      .sort(([, a], [, b]) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map(([name]) => name);
    const live: SecretMetadata[] = [];
    // Refresh in slices and stop as soon as one secret beyond the page proves there is a next page.
    for (let start = 0; start < candidates.length && live.length <= pageSize; start += READ_CONCURRENCY) {
      const slice = candidates.slice(start, start + READ_CONCURRENCY);
      const entries = await mapConcurrently(slice, (name) => this.#fresh(name));
      for (const entry of entries) if (entry?.live) live.push(copyMetadata(entry.metadata));
    }
    if (live.length <= pageSize) return { items: live };
    const items = live.slice(0, pageSize);
    return { items, nextCursor: encodeCursor(items[items.length - 1]!.id) };
  }
}
