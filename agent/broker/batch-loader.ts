/**
 * The backend side of a batch read. The cache asks for each missing id on its own (so each id keeps
 * its own in-flight load, which a write detaches as usual); a {@link BatchLoader} collects the ids
 * asked for in one turn of the event loop and loads them together.
 */
import type { BatchReadResult, SecretRecord } from '../backends/contract.js';
import { notFound, SecretError } from '../backends/errors.js';

/** Loads several ids at once; every id asked for has an entry in the answer. */
export type LoadMany = (ids: string[]) => Promise<Map<string, BatchReadResult>>;

interface Waiter {
  resolve: (record: SecretRecord) => void;
  reject: (err: unknown) => void;
}

/**
 * @example
 * const loader = new BatchLoader((ids) => backend.getMany(ids));
 * const [a, b] = await Promise.all([loader.load('a'), loader.load('b')]); // one getMany(['a', 'b'])
 */
export class BatchLoader {
  readonly #loadMany: LoadMany;
  #pending = new Map<string, Waiter[]>();

  constructor(loadMany: LoadMany) {
    this.#loadMany = loadMany;
  }

  /** Resolves with the id's record, or rejects with its own error or the whole batch's. */
  load(id: string): Promise<SecretRecord> {
    return new Promise((resolve, reject) => {
      if (this.#pending.size === 0) queueMicrotask(() => void this.#flush());
      const waiters = this.#pending.get(id);
      if (waiters === undefined) this.#pending.set(id, [{ resolve, reject }]);
      else waiters.push({ resolve, reject });
    });
  }

  async #flush(): Promise<void> {
    const batch = this.#pending;
    this.#pending = new Map();
    let results: Map<string, BatchReadResult>;
    try {
      results = await this.#loadMany([...batch.keys()]);
    } catch (err) {
      for (const waiters of batch.values()) for (const waiter of waiters) waiter.reject(err);
      return;
    }
    for (const [id, waiters] of batch) {
      const result = results.get(id) ?? notFound(id);
      for (const waiter of waiters) {
        if (result instanceof SecretError) waiter.reject(result);
        else waiter.resolve(result);
      }
    }
  }
}

/**
 * `getMany` for a backend without one: `get` each id, at most `concurrency` at a time, each failure
 * kept as that id's answer.
 */
export async function boundedGets(
  ids: string[],
  concurrency: number,
  get: (id: string) => Promise<SecretRecord>,
): Promise<Map<string, BatchReadResult>> {
  const results = new Map<string, BatchReadResult>();
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++]!;
      try {
        results.set(id, await get(id));
      } catch (err) {
        if (!(err instanceof SecretError)) throw err;
        results.set(id, err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, ids.length) }, worker));
  return results;
}
