/**
 * Runs the writes of one id one after another inside this process. The broker already holds a
 * per-id file lock around writes; this keeps the read-modify-write of a record safe even when a
 * caller skips the broker, and lets `close()` wait for writes still running.
 */
export class PerIdQueue {
  readonly #tails = new Map<string, Promise<unknown>>();

  /** Runs `task` once every earlier task for `id` has settled; resolves or rejects with its result. */
  run<T>(id: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(id) ?? Promise.resolve();
    const result = previous.then(task, task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(id, tail);
    // Forget the id once nothing more is queued behind this task, so the map does not grow forever.
    void tail.then(() => {
      if (this.#tails.get(id) === tail) this.#tails.delete(id);
    });
    return result;
  }

  /** Resolves when every task queued so far has settled. */
  async drain(): Promise<void> {
    while (this.#tails.size > 0) await Promise.all(this.#tails.values());
  }
}
