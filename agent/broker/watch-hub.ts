/**
 * Watches: conditional reads held until the secret's version moves. Every watcher of one id shares
 * one backend poller (so a thousand callers watching `prod/db` cost one poll per interval), the
 * poller stops when the last watcher leaves, and a cap bounds how many watches are held at once.
 * The hub knows versions only: the broker reads values, and publishes every version it learns
 * (its own writes, each backend read, the pollers' reads) through the feed the watches subscribe to.
 */
import { SecretError } from '../backends/errors.js';
import type { VersionListener } from './version-feed.js';

/** How one wait ended: the version moved, the wait ran out, or the watch was let go (shutdown, caller gone). */
export type WaitOutcome = 'changed' | 'timeout' | 'released';

/** Hooks for metrics: the number of watches held, and each poll's outcome (`ok` or an error code). */
export interface WatchEvents {
  watches(active: number): void;
  poll(outcome: string): void;
}

export interface WatchHubOptions {
  /** Time between two backend polls of one watched id (before jitter). */
  pollIntervalMs: number;
  /** Most watches held at once; one more is refused with 503 `backend_unavailable`. */
  maxWatches: number;
  /** Each wait between polls is `pollIntervalMs * (1 - random() * jitterRatio)`, so pollers spread out. */
  jitterRatio?: number;
  /** Subscribes to the versions of one id the broker learns of; returns the unsubscribe. */
  subscribe(id: string, listener: VersionListener): () => void;
  /** One `no-cache` read of the current version (which publishes what it finds); rejects as the read does. */
  poll(id: string): Promise<unknown>;
  random?: () => number;
  events?: WatchEvents;
}

/** Seconds a caller refused at the cap is told to wait. */
const CAP_RETRY_AFTER_MS = 5000;

/** One id's poller and how many watches share it. */
interface Poller {
  watchers: number;
  timer: NodeJS.Timeout | undefined;
}

/** One caller's watch of one id; `close` it when the request ends, whatever happened. */
export interface Watch {
  /** Resolves once a version other than `since` has been published since the last call, or the wait ends. */
  next(deadline: number, signal?: AbortSignal): Promise<WaitOutcome>;
  close(): void;
}

export class WatchHub {
  readonly #options: WatchHubOptions;
  readonly #random: () => number;
  readonly #pollers = new Map<string, Poller>();
  /** Wakes every pending wait with `released`: used once, at shutdown. */
  readonly #releasers = new Set<() => void>();
  #active = 0;
  #closed = false;

  constructor(options: WatchHubOptions) {
    if (!(options.pollIntervalMs > 0)) throw new RangeError('watch pollIntervalMs must be more than 0');
    if (!Number.isInteger(options.maxWatches) || options.maxWatches < 1)
      throw new RangeError('watch maxWatches must be an integer of 1 or more');
    this.#options = options;
    this.#random = options.random ?? Math.random;
  }

  get active(): number {
    return this.#active;
  }

  /** Watches polled right now (one poller each, however many watches share it). */
  get polledIds(): number {
    return this.#pollers.size;
  }

  /**
   * Starts watching `id` for any version but `since`. Subscribes before the caller's first read,
   * so a write that lands between that read and the wait still wakes it.
   */
  open(id: string, since: string): Watch {
    if (this.#active >= this.#options.maxWatches) {
      throw new SecretError('backend_unavailable', `too many watches held (${this.#options.maxWatches}); try again`, {
        retryAfterMs: CAP_RETRY_AFTER_MS,
      });
    }
    let moved = false;
    let wake: ((outcome: WaitOutcome) => void) | undefined;
    const unsubscribe = this.#options.subscribe(id, (version) => {
      if (version === since) return;
      moved = true;
      wake?.('changed');
    });
    this.#setActive(this.#active + 1);
    this.#startPoller(id);
    let closed = false;
    return {
      next: (deadline, signal) => {
        if (moved) {
          moved = false;
          return Promise.resolve('changed');
        }
        if (this.#closed || signal?.aborted) return Promise.resolve('released');
        return new Promise<WaitOutcome>((resolve) => {
          const finish = (outcome: WaitOutcome) => {
            clearTimeout(timer);
            signal?.removeEventListener('abort', onAbort);
            this.#releasers.delete(onAbort);
            wake = undefined;
            moved = false;
            resolve(outcome);
          };
          const onAbort = () => finish('released');
          const timer = setTimeout(() => finish('timeout'), Math.max(0, deadline - Date.now()));
          signal?.addEventListener('abort', onAbort, { once: true });
          this.#releasers.add(onAbort);
          wake = finish;
        });
      },
      close: () => {
        if (closed) return;
        closed = true;
        unsubscribe();
        this.#setActive(this.#active - 1);
        this.#stopPoller(id);
      },
    };
  }

  /** Shutdown: every pending wait ends now (the caller answers 304), later ones at once; pollers stop. */
  releaseAll(): void {
    this.#closed = true;
    for (const release of [...this.#releasers]) release();
    for (const poller of this.#pollers.values()) clearTimeout(poller.timer);
    this.#pollers.clear();
  }

  #setActive(active: number): void {
    this.#active = active;
    this.#options.events?.watches(active);
  }

  #startPoller(id: string): void {
    const poller = this.#pollers.get(id);
    if (poller !== undefined) {
      poller.watchers++;
      return;
    }
    if (this.#closed) return;
    const started: Poller = { watchers: 1, timer: undefined };
    this.#pollers.set(id, started);
    this.#schedule(id, started);
  }

  #stopPoller(id: string): void {
    const poller = this.#pollers.get(id);
    if (poller === undefined || --poller.watchers > 0) return;
    clearTimeout(poller.timer);
    this.#pollers.delete(id);
  }

  /** The next poll of `id`, one jittered interval from now; the timer never keeps the process alive. */
  #schedule(id: string, poller: Poller): void {
    const { pollIntervalMs, jitterRatio = 0.1 } = this.#options;
    const wait = pollIntervalMs * (1 - this.#random() * jitterRatio);
    poller.timer = setTimeout(() => void this.#pollOnce(id, poller), wait);
    poller.timer.unref();
  }

  async #pollOnce(id: string, poller: Poller): Promise<void> {
    let outcome = 'ok';
    try {
      await this.#options.poll(id);
    } catch (err) {
      outcome = err instanceof SecretError ? err.code : 'internal';
    }
    this.#options.events?.poll(outcome);
    // Still the poller of this id (its watchers did not all leave meanwhile): poll again later.
    if (this.#pollers.get(id) === poller) this.#schedule(id, poller);
  }
}
