/**
 * The in-memory index behind `listPage`: record file name -> id, and the ids in sorted order;
 * nothing else, so it costs a couple of hundred bytes per secret. Metadata is read from the record
 * files of the secrets a page returns, never kept. Record files are named by a keyed hash of their
 * id, so a name stands for the same id forever.
 *
 * Every listing re-reads the directory (listings arriving together share one read that started
 * after them), which makes records another broker process created or removed visible at once.
 * Long loops run in slices that yield to the event loop, at most `concurrency` listings scan at
 * once, and a listing that has examined `budgetIds` ids answers early with what it found and a
 * cursor, as the API allows.
 */
import { opendir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ListPage, ListPageQuery, SecretMetadata } from '../contract.js';
import { SecretError } from '../errors.js';
import type { StoreKeys } from './key-material.js';
import { isRecordFileName, openRecord, recordFileName } from './record-codec.js';
import { ScanQueue, SliceClock } from './scan-pacing.js';
import { readFileIfExists } from './store-files.js';
import { metadataOf } from './stored-record.js';

export interface ListScanLimits {
  /** Ids one listing examines before it answers early, with fewer items and a cursor. */
  budgetIds: number;
  /** Listings that scan at once; later ones wait their turn. */
  concurrency: number;
}

export const DEFAULT_SCAN_LIMITS: Readonly<ListScanLimits> = { budgetIds: 20_000, concurrency: 2 };

/** How many record files are read at once. */
const READ_CONCURRENCY = 32;

/**
 * A directory whose last change is older than this when a read of it starts can be trusted to show
 * any later change in its mtime: file systems stamp changes with a coarse clock (a few ms locally,
 * the server's clock on NFS), so a change within the same tick as the last one could go unseen.
 */
const QUIET_DIRECTORY_MS = 2000;

/** The directory's change stamps when its last full read was taken, if that read can be trusted. */
interface DirectoryStamp {
  mtimeNs: bigint;
  ctimeNs: bigint;
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

/** Index of the first id in `sorted` that is greater than `after` (or not less than `from`). */
function firstIndex(sorted: readonly string[], from: string, after: string | undefined): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    const id = sorted[mid] as string;
    if (id < from || (after !== undefined && id <= after)) low = mid + 1;
    else high = mid;
  }
  return low;
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new SecretError('backend_timeout', 'the file store listing was aborted', { cause: signal.reason });
  }
}

/** Merges two sorted lists of distinct ids into one. */
function mergeSorted(a: readonly string[], b: readonly string[]): string[] {
  const merged: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) merged.push((a[i] as string) < (b[j] as string) ? a[i++]! : b[j++]!);
  while (i < a.length) merged.push(a[i++]!);
  while (j < b.length) merged.push(b[j++]!);
  return merged;
}

export class RecordIndex {
  readonly #dir: string;
  readonly #keys: StoreKeys;
  readonly #budgetIds: number;
  readonly #queue: ScanQueue;
  readonly #ids = new Map<string, string>();
  #sorted: string[] = [];
  #refresh: { startedAt: number; done: Promise<void> } | undefined;
  /** Files this process wrote while a directory read was running: that read may not have seen them. */
  #writtenDuringRefresh: Set<string> | undefined;
  #lastRead: DirectoryStamp | undefined;

  constructor(dir: string, keys: StoreKeys, limits: ListScanLimits = DEFAULT_SCAN_LIMITS) {
    this.#dir = dir;
    this.#keys = keys;
    this.#budgetIds = Math.max(1, Math.floor(limits.budgetIds));
    this.#queue = new ScanQueue(limits.concurrency);
  }

  /** Records that `fileName` holds `id`, so no listing needs to decrypt the file to learn it. */
  remember(fileName: string, id: string): void {
    this.#writtenDuringRefresh?.add(fileName);
    if (this.#ids.has(fileName)) return;
    this.#ids.set(fileName, id);
    this.#sorted.splice(firstIndex(this.#sorted, id, undefined), 0, id);
  }

  /** Drops a record that was removed. */
  forget(fileName: string): void {
    const id = this.#ids.get(fileName);
    if (id === undefined) return;
    this.#ids.delete(fileName);
    const at = firstIndex(this.#sorted, id, undefined);
    if (this.#sorted[at] === id) this.#sorted.splice(at, 1);
  }

  /**
   * One page of live secrets, sorted by id, after the cursor's id, starting with `prefix` and
   * accepted by `match`. `nextCursor` is set when one more live secret follows, or when the
   * listing used up its budget (`truncated`) before the end.
   */
  listPage(query: ListPageQuery, signal?: AbortSignal): Promise<ListPage> {
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    const pageSize = Math.max(1, Math.floor(query.pageSize));
    const arrived = performance.now();
    return this.#queue.run(async () => {
      // A listing whose caller gave up while it queued is not worth its scan.
      throwIfAborted(signal);
      await this.#freshView(arrived);
      return this.#collect({ after, prefix: query.prefix ?? '', pageSize, match: query.match, signal });
    });
  }

  /** Waits for a directory read that started at or after `since`, starting one if none did. */
  async #freshView(since: number): Promise<void> {
    for (let current = this.#refresh; current !== undefined; current = this.#refresh) {
      if (current.startedAt >= since) return current.done;
      await current.done.catch(() => undefined);
    }
    const done = this.#readDirectory().finally(() => {
      if (this.#refresh?.done === done) this.#refresh = undefined;
    });
    this.#refresh = { startedAt: performance.now(), done };
    return done;
  }

  /**
   * Reads the directory unless its stamps show no entry was added, removed or renamed since the
   * last trusted read: on a quiet store a listing then costs one stat instead of a read of every
   * name.
   */
  async #readDirectory(): Promise<void> {
    const before = await stat(this.#dir, { bigint: true });
    const last = this.#lastRead;
    if (last !== undefined && last.mtimeNs === before.mtimeNs && last.ctimeNs === before.ctimeNs) return;
    this.#lastRead = undefined;
    const startedMs = Date.now();
    await this.#readAllNames();
    if (Number(before.mtimeMs) < startedMs - QUIET_DIRECTORY_MS) {
      this.#lastRead = { mtimeNs: before.mtimeNs, ctimeNs: before.ctimeNs };
    }
  }

  async #readAllNames(): Promise<void> {
    const clock = new SliceClock();
    const written = new Set<string>();
    this.#writtenDuringRefresh = written;
    try {
      const present = new Set<string>();
      const unknown: string[] = [];
      for await (const entry of await opendir(this.#dir, { bufferSize: 1024 })) {
        if (isRecordFileName(entry.name)) {
          present.add(entry.name);
          if (!this.#ids.has(entry.name)) unknown.push(entry.name);
        }
        if (clock.spent()) await clock.yield();
      }
      const gone = [...this.#ids.keys()].filter((name) => !present.has(name) && !written.has(name));
      for (const name of gone) this.forget(name);
      await this.#load(unknown, clock);
    } finally {
      if (this.#writtenDuringRefresh === written) this.#writtenDuringRefresh = undefined;
    }
  }

  /** Decrypts files not seen before to learn their ids; a file deleted meanwhile is skipped. */
  async #load(names: readonly string[], clock: SliceClock): Promise<void> {
    const added: string[] = [];
    for (let start = 0; start < names.length; start += READ_CONCURRENCY) {
      const batch = names.slice(start, start + READ_CONCURRENCY);
      const sealed = await Promise.all(batch.map((name) => readFileIfExists(join(this.#dir, name))));
      batch.forEach((name, i) => {
        const bytes = sealed[i];
        if (bytes === undefined || this.#ids.has(name)) return;
        const { id } = openRecord(this.#keys, name, bytes, `file '${name}'`);
        this.#ids.set(name, id);
        added.push(id);
      });
      if (clock.overdue()) await clock.yield();
    }
    // One merge rather than an insertion per id: a first start may add every secret of the store.
    if (added.length > 0) this.#sorted = mergeSorted(this.#sorted, added.sort());
  }

  async #collect(scan: {
    after: string | undefined;
    prefix: string;
    pageSize: number;
    match: ((id: string) => boolean) | undefined;
    signal: AbortSignal | undefined;
  }): Promise<ListPage> {
    const { prefix, pageSize, match, signal } = scan;
    const clock = new SliceClock();
    const items: SecretMetadata[] = [];
    let last = scan.after;
    let examined = 0;
    for (;;) {
      // Ids may have come and gone while this scan waited: find its place again by id.
      let position = firstIndex(this.#sorted, prefix, last);
      const candidates: string[] = [];
      let ended = false;
      while (candidates.length < Math.min(pageSize + 1 - items.length, READ_CONCURRENCY)) {
        const id = this.#sorted[position];
        if (id === undefined || !id.startsWith(prefix)) {
          ended = true;
          break;
        }
        position++;
        examined++;
        last = id;
        if (match === undefined || match(id)) candidates.push(id);
        if (examined >= this.#budgetIds || clock.spent()) break;
      }
      for (const metadata of await Promise.all(candidates.map((id) => this.#liveMetadata(id)))) {
        if (metadata !== undefined) items.push(metadata);
      }
      if (items.length > pageSize) {
        const page = items.slice(0, pageSize);
        return { items: page, nextCursor: encodeCursor(page[page.length - 1]!.id) };
      }
      if (ended) return { items };
      if (examined >= this.#budgetIds) return { items, nextCursor: encodeCursor(last as string), truncated: true };
      throwIfAborted(signal);
      if (clock.overdue()) await clock.yield();
    }
  }

  /** Metadata of `id` as its file holds it now, or `undefined` if it is gone or pending deletion. */
  async #liveMetadata(id: string): Promise<SecretMetadata | undefined> {
    const fileName = recordFileName(this.#keys, id);
    const sealed = await readFileIfExists(join(this.#dir, fileName));
    if (sealed === undefined) {
      this.forget(fileName);
      return undefined;
    }
    const record = openRecord(this.#keys, fileName, sealed, `secret '${id}'`);
    return record.deletion === undefined ? metadataOf(record) : undefined;
  }
}
