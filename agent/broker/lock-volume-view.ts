/**
 * What the lock volume says, held in memory: the names of the locks other writers hold, refreshed
 * by a background scan of the lock directory. A read answers `locked` from here without touching
 * the file system; a lock taken elsewhere shows at most one scan interval late, which is enough
 * for an advisory field (a write waits for the lock whatever a read said).
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

/** proper-lockfile holds a lock as a directory named `<lock path>.lock`. */
const LOCK_SUFFIX = '.lock';

export interface LockVolumeViewOptions {
  dir: string;
  /** A lock whose directory was not refreshed for this long belongs to a dead holder: not held. */
  staleMs: number;
  /** Time between scans. */
  intervalMs: number;
  /** Injected wall clock (lock directories carry wall-clock mtimes), in milliseconds. */
  now?: () => number;
  /** Also given each scan's listing of the directory (the version markers look there); must not reject. */
  onListing?: (names: readonly string[]) => Promise<void>;
}

/**
 * @example
 * const view = new LockVolumeView({ dir: '/run/secrets-broker/locks', staleMs: 10_000, intervalMs: 250 });
 * view.start();
 * view.has(lockName); // from memory
 * view.stop();
 */
export class LockVolumeView {
  readonly #options: LockVolumeViewOptions;
  readonly #now: () => number;
  #held = new Set<string>();
  /** What this process learned while a scan ran; newer than what that scan read, so it wins. */
  #learned = new Map<string, boolean>();
  #timer: NodeJS.Timeout | undefined;
  #scanning: Promise<void> | undefined;

  constructor(options: LockVolumeViewOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** How many locks the last scan saw held; 0 lets a caller skip naming the lock at all. */
  get size(): number {
    return this.#held.size;
  }

  /** Whether the last scan saw the lock named `name` (the lock path's base name) held. */
  has(name: string): boolean {
    return this.#held.has(name);
  }

  /** This process just met the lock held (a refused acquire): held until a scan says otherwise. */
  noteHeld(name: string): void {
    this.#held.add(name);
    if (this.#scanning !== undefined) this.#learned.set(name, true);
  }

  /** This process just released the lock: not held until a scan says otherwise. */
  noteReleased(name: string): void {
    this.#held.delete(name);
    if (this.#scanning !== undefined) this.#learned.set(name, false);
  }

  /** Scans now and then every interval; the timer never keeps the process alive. */
  start(): void {
    if (this.#timer !== undefined) return;
    void this.scan();
    this.#timer = setInterval(() => void this.scan(), this.#options.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One scan; a scan still running is shared rather than doubled. Never rejects. */
  scan(): Promise<void> {
    this.#scanning ??= this.#scanOnce().finally(() => {
      this.#scanning = undefined;
      this.#learned.clear();
    });
    return this.#scanning;
  }

  async #scanOnce(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.#options.dir);
    } catch {
      // No directory yet (no write has happened) or unreadable: nothing is known to be held.
      names = [];
    }
    const locks = names.filter((name) => name.endsWith(LOCK_SUFFIX));
    const [fresh] = await Promise.all([
      Promise.all(locks.map((name) => this.#isFresh(name))),
      this.#options.onListing?.(names),
    ]);
    const held = new Set(locks.filter((_, i) => fresh[i]).map((name) => name.slice(0, -LOCK_SUFFIX.length)));
    for (const [name, isHeld] of this.#learned) {
      if (isHeld) held.add(name);
      else held.delete(name);
    }
    this.#held = held;
  }

  async #isFresh(name: string): Promise<boolean> {
    try {
      const { mtimeMs } = await stat(path.join(this.#options.dir, name));
      return this.#now() - mtimeMs <= this.#options.staleMs;
    } catch {
      return false;
    }
  }
}
