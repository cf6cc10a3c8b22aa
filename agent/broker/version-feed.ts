/**
 * Per-secret version change notices inside one broker: what a watch (a conditional read held until
 * the version moves) waits on. The broker publishes every version it learns: its own writes,
 * restores and deletes, and each backend read of a current value, so a poller that reads the
 * backend and any watcher of the same id meet here.
 */

/** The id's current version, or undefined once it is gone (deleted, or not found by a read). */
export type VersionListener = (version: string | undefined) => void;

export class VersionFeed {
  readonly #listeners = new Map<string, Set<VersionListener>>();
  /** The last version published per watched id; ids nobody watches are not remembered. */
  readonly #last = new Map<string, string | undefined>();

  /** Calls `listener` whenever the version of `id` changes from the last one published; returns the unsubscribe. */
  subscribe(id: string, listener: VersionListener): () => void {
    let listeners = this.#listeners.get(id);
    if (listeners === undefined) {
      listeners = new Set();
      this.#listeners.set(id, listeners);
    }
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
      if (listeners.size > 0 || this.#listeners.get(id) !== listeners) return;
      this.#listeners.delete(id);
      this.#last.delete(id);
    };
  }

  /** A map lookup when nobody watches `id`: cheap enough for every backend read. */
  publish(id: string, version: string | undefined): void {
    const listeners = this.#listeners.get(id);
    if (listeners === undefined) return;
    if (this.#last.has(id) && this.#last.get(id) === version) return;
    this.#last.set(id, version);
    for (const listener of [...listeners]) listener(version);
  }
}
