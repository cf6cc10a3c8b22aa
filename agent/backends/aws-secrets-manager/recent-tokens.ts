/**
 * A small, bounded memory of request tokens already sent. Secrets Manager has no idempotency token
 * for DeleteSecret, so the backend remembers which deletes it attempted: when a retry of one of them
 * finds the secret gone, the earlier attempt (whose answer was lost) did the work.
 */
export class RecentTokens {
  readonly #tokens = new Set<string>();
  readonly #capacity: number;

  constructor(capacity = 1024) {
    this.#capacity = capacity;
  }

  has(token: string): boolean {
    return this.#tokens.has(token);
  }

  /** Remembers `token`, forgetting the oldest one once the capacity is reached. */
  add(token: string): void {
    this.#tokens.delete(token);
    this.#tokens.add(token);
    if (this.#tokens.size > this.#capacity) {
      const oldest = this.#tokens.values().next().value;
      if (oldest !== undefined) this.#tokens.delete(oldest);
    }
  }
}
