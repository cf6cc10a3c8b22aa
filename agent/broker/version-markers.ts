/**
 * Cross-broker change notices through the lock volume. After each successful write, delete or
 * restore, the writer (still under the secret's lock) replaces `<lockDir>/<sha256(id)>.version`,
 * which holds the version alone (empty once deleted): never a value, never the id. Every broker
 * sharing the volume looks at the markers of the ids it caches or watches during the lock
 * volume's background scan, off the request path, and tells the broker of each one that changed.
 * A scan every 250 ms works the same on a local volume and on EFS (where change notifications do
 * not cross hosts), so another broker's write is seen well within a second.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** A marker file's name: the lock's name (sha256 of the id) and this suffix. */
export const MARKER_SUFFIX = '.version';

/** The id's version as a marker says it, or undefined once the id was deleted. */
export type MarkerListener = (id: string, version: string | undefined) => void;

/** Most ids followed at once; past it the longest-followed is let go (its cache entry then ends at its TTL). */
const MAX_TRACKED_IDS = 100_000;

/**
 * A marker first seen this long before its id was followed may still be a write this broker did
 * not see: reported all the same (the cost of a false report is one backend read). Covers the
 * clock skew between hosts sharing EFS and the scan interval.
 */
const FIRST_SIGHT_SLACK_MS = 2000;

interface Tracked {
  id: string;
  since: number;
  /** `ino:mtime` of the marker when last looked at; undefined until first seen. */
  seen: string | undefined;
}

export function markerName(id: string): string {
  return `${createHash('sha256').update(id).digest('hex')}${MARKER_SUFFIX}`;
}

export class VersionMarkers {
  readonly #dir: string;
  readonly #now: () => number;
  /** Followed ids by marker name, oldest first. */
  readonly #tracked = new Map<string, Tracked>();
  readonly #listeners = new Set<MarkerListener>();

  constructor(dir: string, now: () => number = Date.now) {
    this.#dir = dir;
    this.#now = now;
  }

  onChange(listener: MarkerListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Follows the marker of `id` from now on: called when the broker caches or watches it. */
  track(id: string): void {
    const name = markerName(id);
    if (this.#tracked.has(name)) return;
    if (this.#tracked.size >= MAX_TRACKED_IDS) this.#tracked.delete(this.#tracked.keys().next().value as string);
    this.#tracked.set(name, { id, since: this.#now(), seen: undefined });
  }

  /**
   * Replaces the marker of `id` with `version` (empty: deleted), atomically: a reader sees the old
   * file or the new one, never a partial one. Call under the secret's lock.
   */
  async write(id: string, version: string | undefined): Promise<void> {
    const target = path.join(this.#dir, markerName(id));
    // The lock volume's sweep removes such temp files a killed writer left (lock-fs.ts).
    const temp = `${target}.${randomBytes(8).toString('hex')}.creating`;
    try {
      await writeFile(temp, version ?? '', { mode: 0o640 });
      await rename(temp, target);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }

  /** One look at the followed markers among `names` (the lock directory's listing); never rejects. */
  async scan(names: readonly string[]): Promise<void> {
    if (this.#tracked.size === 0) return;
    const present = names.filter((name) => name.endsWith(MARKER_SUFFIX) && this.#tracked.has(name));
    await Promise.all(present.map((name) => this.#look(name)));
  }

  async #look(name: string): Promise<void> {
    const tracked = this.#tracked.get(name);
    if (tracked === undefined) return;
    let signature: string;
    let mtimeMs: number;
    try {
      const info = await stat(path.join(this.#dir, name));
      // A rename makes a new inode: a rewrite within one mtime tick still shows.
      signature = `${info.ino}:${info.mtimeMs}`;
      mtimeMs = info.mtimeMs;
    } catch {
      return;
    }
    const first = tracked.seen === undefined;
    if (signature === tracked.seen) return;
    tracked.seen = signature;
    if (first && mtimeMs < tracked.since - FIRST_SIGHT_SLACK_MS) return;
    let text: string;
    try {
      text = await readFile(path.join(this.#dir, name), 'utf8');
    } catch {
      return;
    }
    const version = text === '' ? undefined : text;
    for (const listener of [...this.#listeners]) listener(tracked.id, version);
  }
}
