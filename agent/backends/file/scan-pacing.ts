/**
 * Pacing for long scans of the file store (directory reads, list filters over many ids): work runs
 * in short slices that give the event loop back between them, and only a few scans run at once,
 * so a list over a large store never stalls the reads and writes served beside it.
 */

/** Longest a scan keeps the event loop before it yields: well under the ~20 ms a request may wait. */
export const SLICE_MS = 5;

/** Tells a loop when its slice is used up; checking the clock every call would cost more than the work. */
export class SliceClock {
  #deadline = performance.now() + SLICE_MS;
  #calls = 0;

  /** True once the slice is used up; checks the clock every 64 calls. */
  spent(): boolean {
    return (++this.#calls & 63) === 0 && performance.now() >= this.#deadline;
  }

  /** True once the slice is used up, reading the clock now. */
  overdue(): boolean {
    return performance.now() >= this.#deadline;
  }

  /** Gives the event loop back (I/O callbacks run first), then starts a new slice. */
  async yield(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.#deadline = performance.now() + SLICE_MS;
  }
}

/** Runs at most `limit` tasks at once; the others wait in arrival order. */
export class ScanQueue {
  readonly #limit: number;
  readonly #waiting: Array<() => void> = [];
  #running = 0;

  constructor(limit: number) {
    this.#limit = Math.max(1, Math.floor(limit));
  }

  /** Tasks started and not yet finished, and tasks waiting for a turn (for tests and metrics). */
  get running(): number {
    return this.#running;
  }
  get waiting(): number {
    return this.#waiting.length;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#limit) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#running++;
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      // The slot passes straight to the next task, so a newcomer cannot overtake the queue.
      if (next) next();
      else this.#running--;
    }
  }
}
