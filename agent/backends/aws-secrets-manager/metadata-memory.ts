/**
 * What GetSecretValue does not say about a secret (description, tags, creation date), remembered
 * from what this backend already saw: its own writes, every DescribeSecret (the broker describes
 * before each write and delete) and every list page. A read then costs one call instead of two
 * (GetSecretValue plus DescribeSecret), which halves the API calls a cache miss spends from the
 * account's quota.
 */
import type { SecretMetadata } from '../contract.js';

/** The fields a read takes from here rather than from the service. */
export type RememberedMetadata = Pick<SecretMetadata, 'description' | 'tags' | 'createdAt'>;

/** How long seen metadata is used: a change made outside this broker shows on reads at most this late. */
export const METADATA_TTL_MS = 10 * 60_000;
const MAX_ENTRIES = 10_000;

/**
 * Bounded and time-limited, oldest first out. Holds metadata only (never values), which the
 * contract allows to be kept in the clear.
 */
export class MetadataMemory {
  readonly #entries = new Map<string, { fields: RememberedMetadata; until: number }>();

  constructor(
    private readonly ttlMs = METADATA_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  remember(id: string, metadata: SecretMetadata): void {
    const fields: RememberedMetadata = {
      ...(metadata.description ? { description: metadata.description } : {}),
      ...(metadata.tags ? { tags: metadata.tags } : {}),
      ...(metadata.createdAt ? { createdAt: metadata.createdAt } : {}),
    };
    this.#entries.delete(id);
    this.#entries.set(id, { fields, until: this.now() + this.ttlMs });
    if (this.#entries.size > MAX_ENTRIES) this.#entries.delete(this.#entries.keys().next().value as string);
  }

  /** The remembered fields, or an empty object when nothing recent is known. */
  lookup(id: string): RememberedMetadata {
    const entry = this.#entries.get(id);
    if (entry === undefined) return {};
    if (this.now() <= entry.until) return entry.fields;
    this.#entries.delete(id);
    return {};
  }

  forget(id: string): void {
    this.#entries.delete(id);
  }
}
