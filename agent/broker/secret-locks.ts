/**
 * Per-secret write locks on a shared directory (an emptyDir for the containers of one pod, EFS for
 * several pods), built on proper-lockfile. The lock path is `<dir>/<sha256(id)>`: fixed length, no
 * characters a file system could object to, and nothing in the lock directory but hashes.
 */
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { SecretError } from '../backends/errors.js';
import { HolderAwareLockFs, sweepLeftovers } from './lock-fs.js';
import { type HolderRecord, LivenessSocket, ownHolderRecord } from './lock-holder.js';
import { LockVolumeView } from './lock-volume-view.js';
import type { MarkerCheck } from './marker-sightings.js';
import { VersionMarkers } from './version-markers.js';

export interface SecretLockOptions {
  dir: string;
  /** How long `acquire` waits for a held lock before giving up with 423 `locked`. */
  waitMs: number;
  /** A lock not refreshed for this long belongs to a dead holder and may be taken over. */
  staleMs: number;
  /** Told when a held lock was lost (its file removed or taken over); the write using it is aborted. */
  onCompromised?: (id: string, err: Error) => void;
  /** Told how long each acquisition waited and whether it got the lock. */
  onAcquire?: (waitedMs: number, acquired: boolean) => void;
  /** How the version markers are compared; by default chosen from the volume's file system type. */
  markerCheck?: MarkerCheck;
  /** How long an id's marker is still looked at after the broker last read, wrote or watched it (see VersionMarkers). */
  markerIdleMs?: number;
}

export interface HeldLock {
  /** Aborted if the lock is compromised while held: pass it to the write so the write stops. */
  readonly signal: AbortSignal;
  release(): Promise<void>;
}

/** What the broker needs from locking; the benchmark swaps in a no-op to measure the lock's cost. */
export interface SecretLocking {
  acquire(id: string): Promise<HeldLock>;
  /** Whether some writer holds the secret's lock, from memory (locks held here, and the lock volume as last scanned). */
  lockedNow(id: string): boolean;
  /** Starts the background refresh that `lockedNow` answers from. */
  start?(): void;
  /** Stops it; `releaseAll` is separate, since a shutdown releases first. */
  stop?(): void;
  releaseAll(): Promise<void>;
  /** Version markers on the lock volume, through which brokers sharing it see each other's writes. */
  readonly markers?: VersionMarkers;
}

/** How often the lock directory is scanned for locks held by other processes. */
const LOCK_VOLUME_SCAN_MS = 250;

/** Seconds a caller refused with 423 is told to wait. */
const LOCKED_RETRY_AFTER_MS = 1000;

/** proper-lockfile's floor for staleness; the holder check uses the same figure. */
const MIN_STALE_MS = 2000;

export class FileSecretLocks implements SecretLocking {
  readonly #options: SecretLockOptions;
  readonly #held = new Set<() => Promise<void>>();
  /** Ids this process holds a lock on, with how many holders: answered without a look-up. */
  readonly #heldIds = new Map<string, number>();
  readonly #volume: LockVolumeView;
  readonly markers: VersionMarkers;
  #dirReady: Promise<unknown> | undefined;
  /** Lock directories carry their holder's record, so a dead holder on this host is taken over at once. */
  readonly #lockFs: HolderAwareLockFs;
  readonly #liveness: LivenessSocket;
  /** This process as a lock holder; `undefined` where /proc cannot identify it. */
  readonly #self: HolderRecord | undefined = ownHolderRecord();

  constructor(options: SecretLockOptions) {
    this.#options = options;
    this.markers = new VersionMarkers(options.dir, {
      ...(options.markerCheck ? { check: options.markerCheck } : {}),
      ...(options.markerIdleMs !== undefined ? { idleMs: options.markerIdleMs } : {}),
    });
    // One scan of the lock directory serves both the `locked` field and the version markers.
    this.#volume = new LockVolumeView({
      dir: options.dir,
      staleMs: options.staleMs,
      intervalMs: LOCK_VOLUME_SCAN_MS,
      onListing: (names) => this.markers.scan(names),
    });
    this.#liveness = new LivenessSocket(options.dir, this.#self);
    this.#lockFs = new HolderAwareLockFs({
      staleMs: Math.max(options.staleMs, MIN_STALE_MS),
      liveness: this.#liveness,
      self: this.#self,
    });
  }

  lockPath(id: string): string {
    return path.join(this.#options.dir, lockName(id));
  }

  lockedNow(id: string): boolean {
    if (this.#heldIds.has(id)) return true;
    // Most of the time no lock is held anywhere: then no hash is computed at all.
    return this.#volume.size > 0 && this.#volume.has(lockName(id));
  }

  start(): void {
    this.#volume.start();
  }

  stop(): void {
    this.#volume.stop();
  }

  async acquire(id: string): Promise<HeldLock> {
    this.#dirReady ??= mkdir(this.#options.dir, { recursive: true }).then(() =>
      sweepLeftovers(this.#options.dir, this.#self),
    );
    await this.#dirReady;
    const controller = new AbortController();
    const started = performance.now();
    let release: () => Promise<void>;
    const lockPath = this.lockPath(id);
    try {
      release = await lockfile.lock(lockPath, {
        realpath: false,
        stale: this.#options.staleMs,
        retries: this.#waitPolicy(),
        fs: this.#lockFs,
        onCompromised: (err) => {
          this.#lockFs.forget(`${lockPath}.lock`);
          controller.abort(
            new SecretError('locked', `lock of secret '${id}' was lost during the write`, { cause: err }),
          );
          this.#options.onCompromised?.(id, err);
        },
      });
    } catch (err) {
      this.#options.onAcquire?.(performance.now() - started, false);
      if ((err as NodeJS.ErrnoException).code === 'ELOCKED') {
        this.#volume.noteHeld(lockName(id));
        throw new SecretError('locked', `secret '${id}' is being written by another caller`, {
          cause: err,
          retryAfterMs: LOCKED_RETRY_AFTER_MS,
        });
      }
      throw new SecretError('internal', `cannot lock secret '${id}'`, { cause: err });
    }
    this.#options.onAcquire?.(performance.now() - started, true);
    this.#heldIds.set(id, (this.#heldIds.get(id) ?? 0) + 1);
    const releaseOnce = async () => {
      if (!this.#held.delete(releaseOnce)) return;
      const holders = (this.#heldIds.get(id) ?? 1) - 1;
      if (holders > 0) this.#heldIds.set(id, holders);
      else this.#heldIds.delete(id);
      this.#volume.noteReleased(lockName(id));
      // A compromised lock is no longer ours to remove: proper-lockfile refuses to (ERELEASED).
      await release().catch(() => undefined);
    };
    this.#held.add(releaseOnce);
    return { signal: controller.signal, release: releaseOnce };
  }

  /**
   * Releases every lock this process holds: called on shutdown so no writer waits for staleness.
   * The liveness socket closes too (and removes its file); the next acquire opens a new one.
   */
  async releaseAll(): Promise<void> {
    await Promise.all([...this.#held].map((release) => release()));
    await this.#liveness.close();
  }

  /** Backoff while waiting for a lock: short first polls, then up to 250 ms apart, until `waitMs`. */
  #waitPolicy() {
    const { waitMs } = this.#options;
    if (waitMs === 0) return { retries: 0 };
    // Jitter keeps waiting writers from polling in step; only the timing of the polls shows it.
    // Stryker disable next-line BooleanLiteral: jitter changes when the polls happen, which no test may assert
    return { retries: 1000, factor: 1.5, minTimeout: 10, maxTimeout: 250, randomize: true, maxRetryTime: waitMs };
  }
}

function lockName(id: string): string {
  return createHash('sha256').update(id).digest('hex');
}
