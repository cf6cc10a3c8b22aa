/**
 * Cross-broker change notices through the lock volume. After each successful write, delete or
 * restore, the writer (still under the secret's lock) replaces `<lockDir>/<sha256(id)>.version`,
 * which holds the version alone (empty once deleted): never a value, never the id. Every broker
 * sharing the volume looks at the markers of the ids it caches or watches during the lock
 * volume's background scan, off the request path, and tells the broker of each one that changed.
 * The scan polls every 250 ms on a local volume and on EFS alike (change notifications do not
 * cross hosts); on EFS it reads each followed marker rather than trusting `stat`
 * (marker-sightings.ts), so another broker's write is seen well within a second either way.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type MarkerCheck, markerCheckFor, type Sighting, sightAttributes, sightContents } from './marker-sightings.js';

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
  /** The marker's signature when last looked at (its text, or `ino:mtime`); undefined until first seen. */
  seen: string | undefined;
  /** When the broker last showed interest (a backend read, a write, the end of a watch). */
  touched: number;
  /** Watches waiting on the id now: while any is, the id is followed however long ago it was touched. */
  holds: number;
}

export interface VersionMarkerOptions {
  /** Injected wall clock (markers carry wall-clock mtimes), in milliseconds. */
  now?: () => number;
  /** How a scan tells a change; by default chosen from the lock volume's file system type. */
  check?: MarkerCheck;
  /**
   * An id neither touched nor held for this long is let go at the next scan, so that a scan looks
   * only at the markers of what the broker may still answer from its cache: its cache's TTL plus
   * its stale-if-error window. Unset: followed until {@link MAX_TRACKED_IDS} pushes it out.
   */
  idleMs?: number;
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
  readonly #idleMs: number | undefined;
  /** Settled once, at the first scan with a marker to look at (the directory exists by then). */
  #check: Promise<MarkerCheck> | undefined;

  constructor(dir: string, options: VersionMarkerOptions = {}) {
    this.#dir = dir;
    this.#now = options.now ?? Date.now;
    this.#idleMs = options.idleMs;
    if (options.check !== undefined) this.#check = Promise.resolve(options.check);
  }

  onChange(listener: MarkerListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Follows the marker of `id` from now on (again, if already followed): called when the broker caches it. */
  track(id: string): void {
    this.#follow(id);
  }

  /** Follows the marker of `id` until the returned release is called, however long: for a watch. */
  hold(id: string): () => void {
    const tracked = this.#follow(id);
    tracked.holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      tracked.holds--;
      tracked.touched = this.#now();
    };
  }

  #follow(id: string): Tracked {
    const name = markerName(id);
    const now = this.#now();
    const known = this.#tracked.get(name);
    if (known !== undefined) {
      known.touched = now;
      return known;
    }
    if (this.#tracked.size >= MAX_TRACKED_IDS) this.#tracked.delete(this.#tracked.keys().next().value as string);
    const tracked: Tracked = { id, since: now, seen: undefined, touched: now, holds: 0 };
    this.#tracked.set(name, tracked);
    return tracked;
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

  /**
   * One look at the followed markers among `names` (the lock directory's listing): one `stat`, or
   * one open and read on a network volume, per followed marker present. Never rejects.
   */
  async scan(names: readonly string[]): Promise<void> {
    this.#letGoOfIdle();
    if (this.#tracked.size === 0) return;
    const present = names.filter((name) => name.endsWith(MARKER_SUFFIX) && this.#tracked.has(name));
    if (present.length === 0) return;
    this.#check ??= markerCheckFor(this.#dir);
    const check = await this.#check;
    await Promise.all(present.map((name) => this.#look(name, check)));
  }

  #letGoOfIdle(): void {
    if (this.#idleMs === undefined) return;
    const oldest = this.#now() - this.#idleMs;
    for (const [name, tracked] of this.#tracked) {
      if (tracked.holds === 0 && tracked.touched < oldest) this.#tracked.delete(name);
    }
  }

  async #look(name: string, check: MarkerCheck): Promise<void> {
    const tracked = this.#tracked.get(name);
    if (tracked === undefined) return;
    const file = path.join(this.#dir, name);
    const first = tracked.seen === undefined;
    const sighting: Sighting | undefined =
      check === 'contents' ? await sightContents(file, first) : await sightAttributes(file);
    // Gone (removed by hand) or unreadable: nothing learned. One put back is compared with the last seen.
    if (sighting === undefined || sighting.signature === tracked.seen) return;
    tracked.seen = sighting.signature;
    // Older than this broker's interest in the id: a write its own backend read already saw.
    if (first && sighting.mtimeMs !== undefined && sighting.mtimeMs < tracked.since - FIRST_SIGHT_SLACK_MS) return;
    const text = sighting.text ?? (await readFile(file, 'utf8').catch(() => undefined));
    if (text === undefined) return;
    const version = text === '' ? undefined : text;
    for (const listener of [...this.#listeners]) listener(tracked.id, version);
  }
}
