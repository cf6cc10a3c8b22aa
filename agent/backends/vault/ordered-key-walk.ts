/**
 * KV v2 lists one folder level at a time, so listing means walking folders. Visiting each folder's
 * entries in sorted order, depth first, yields ids in globally sorted order: a folder `a/` sorts
 * exactly where every `a/...` id sorts among its siblings. That lets a page start after a cursor
 * without listing the folders wholly before it, and stop as soon as it has enough ids.
 */
import type { CallOptions } from '../contract.js';
import type { KvStore } from './kv-store.js';

export interface WalkOptions {
  /** Only ids starting with this. */
  prefix: string;
  /** Only ids sorting after this (the previous page's last id). */
  after?: string;
  /** Most folder entries to look at (folders listed plus ids seen); then the walk stops early. */
  maxKeys: number;
  call?: CallOptions;
}

export class OrderedKeyWalk {
  readonly #kv: KvStore;
  readonly #options: WalkOptions;
  readonly #ids: AsyncGenerator<string>;
  #examined = 0;
  #seenAnId = false;
  /** True when the walk stopped at `maxKeys` with parts of the tree not yet visited. */
  truncated = false;

  constructor(kv: KvStore, options: WalkOptions) {
    this.#kv = kv;
    this.#options = options;
    const { prefix } = options;
    this.#ids = this.#walk(prefix.slice(0, prefix.lastIndexOf('/') + 1));
  }

  /** The next id in order, or undefined when the walk is over (see {@link truncated}). */
  async next(): Promise<string | undefined> {
    const step = await this.#ids.next();
    return step.done ? undefined : step.value;
  }

  async *#walk(folder: string): AsyncGenerator<string> {
    if (this.#spent()) return;
    this.#examined++;
    const entries = (await this.#kv.listFolder(folder, this.#options.call)).sort();
    for (const entry of entries) {
      const path = folder + entry;
      if (!this.#relevant(path, entry.endsWith('/'))) continue;
      if (this.#spent()) return;
      if (entry.endsWith('/')) {
        yield* this.#walk(path);
        if (this.truncated) return;
        continue;
      }
      this.#examined++;
      this.#seenAnId = true;
      yield path;
    }
  }

  /** Budget check; progress is guaranteed by never stopping before the first id. */
  #spent(): boolean {
    if (this.#examined < this.#options.maxKeys || !this.#seenAnId) return false;
    this.truncated = true;
    return true;
  }

  #relevant(path: string, isFolder: boolean): boolean {
    const { prefix, after } = this.#options;
    const matchesPrefix = path.startsWith(prefix) || (isFolder && prefix.startsWith(path));
    if (!matchesPrefix || after === undefined) return matchesPrefix;
    // A folder that sorts before `after` without leading to it holds only ids before it.
    if (isFolder) return path > after || after.startsWith(path);
    return path > after;
  }
}
