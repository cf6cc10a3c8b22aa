/**
 * A small in-memory SecretBackend for broker and HTTP tests: counts calls per operation, pages its
 * listing in fixed small pages (so the broker's paging across pages is exercised), and can be told
 * to fail the next calls of an operation with a given error. It can do everything a store can but
 * batch reads (it has no `getMany`), unless told to lack more, for the broker's capability checks.
 */
import type {
  BackendCapabilities,
  BatchReadResult,
  CallOptions,
  CreateInput,
  DeleteInput,
  ListPage,
  ListPageQuery,
  PutInput,
  SecretBackend,
  SecretDescription,
  SecretMetadata,
  SecretRecord,
} from '../../agent/backends/contract.js';
import { notFound, SecretError } from '../../agent/backends/errors.js';

interface Stored {
  versions: SecretRecord[];
  pending: boolean;
}

type Operation = 'get' | 'describe' | 'create' | 'put' | 'delete' | 'restore' | 'listPage' | 'ready';

export class MemoryBackend implements SecretBackend {
  readonly kind = 'memory';
  readonly calls: Record<Operation, number> = {
    get: 0,
    describe: 0,
    create: 0,
    put: 0,
    delete: 0,
    restore: 0,
    listPage: 0,
    ready: 0,
  };
  readonly #secrets = new Map<string, Stored>();
  readonly #failures = new Map<Operation, unknown[]>();
  #counter = 0;
  /** The prefix of every listPage call, in order. */
  readonly listPrefixes: (string | undefined)[] = [];
  /** Delay applied to every call, to widen race windows; honours the abort signal. */
  delayMs = 0;

  readonly capabilities: BackendCapabilities;

  constructor(
    readonly pageSize = 3,
    lacking: readonly (keyof BackendCapabilities)[] = [],
  ) {
    const all = { recoverableDelete: true, restore: true, versionReads: true, checkAndSet: true, batchRead: false };
    this.capabilities = { ...all, ...Object.fromEntries(lacking.map((name) => [name, false])) };
  }

  /** The next `times` calls of `operation` throw `error`. */
  failNext(operation: Operation, error: unknown, times = 1): void {
    this.#failures.set(operation, [...(this.#failures.get(operation) ?? []), ...Array(times).fill(error)]);
  }

  async get(id: string, version: string | undefined, options?: CallOptions): Promise<SecretRecord> {
    await this.#enter('get', options);
    const stored = this.#live(id);
    const record = version ? stored.versions.find((v) => v.version === version) : stored.versions.at(-1);
    if (!record) throw notFound(id);
    return { ...record };
  }

  async describe(id: string, options?: CallOptions): Promise<SecretDescription> {
    await this.#enter('describe', options);
    const stored = this.#secrets.get(id);
    if (!stored) throw notFound(id);
    const { value: _value, ...meta } = stored.versions.at(-1) as SecretRecord;
    return { ...meta, ...(stored.pending ? { pendingDeletion: true } : {}) };
  }

  async create(input: CreateInput, options?: CallOptions): Promise<SecretMetadata> {
    await this.#enter('create', options);
    const existing = this.#secrets.get(input.id);
    if (existing?.pending) throw new SecretError('pending_deletion', `secret '${input.id}' is pending deletion`);
    if (existing) throw new SecretError('already_exists', `secret '${input.id}' already exists`);
    const record = this.#record(input.id, input);
    this.#secrets.set(input.id, { versions: [record], pending: false });
    return strip(record);
  }

  async put(id: string, input: PutInput, options?: CallOptions): Promise<SecretMetadata> {
    await this.#enter('put', options);
    const stored = this.#live(id);
    const current = stored.versions.at(-1) as SecretRecord;
    if (input.ifVersion !== undefined && input.ifVersion !== current.version) {
      throw new SecretError('precondition_failed', `secret '${id}' changed`);
    }
    const record = this.#record(id, {
      ...input,
      description: input.description ?? current.description,
      tags: input.tags ?? current.tags,
    });
    stored.versions.push(record);
    return strip(record);
  }

  async delete(id: string, input: DeleteInput, options?: CallOptions): Promise<void> {
    await this.#enter('delete', options);
    const stored = this.#secrets.get(id);
    if (!stored || (stored.pending && !input.force)) throw notFound(id);
    if (input.force) this.#secrets.delete(id);
    else stored.pending = true;
  }

  async restore(id: string, options?: CallOptions): Promise<SecretMetadata> {
    await this.#enter('restore', options);
    const stored = this.#secrets.get(id);
    if (!stored) throw notFound(id);
    stored.pending = false;
    return strip(stored.versions.at(-1) as SecretRecord);
  }

  async listPage(query: ListPageQuery, options?: CallOptions): Promise<ListPage> {
    await this.#enter('listPage', options);
    this.listPrefixes.push(query.prefix);
    const ids = [...this.#secrets.entries()]
      .filter(([id, s]) => !s.pending && id.startsWith(query.prefix ?? ''))
      .map(([id]) => id)
      .sort();
    const start = query.cursor ? Number(query.cursor) : 0;
    const slice = ids.slice(start, start + this.pageSize);
    const items = slice.map((id) => strip(this.#secrets.get(id)?.versions.at(-1) as SecretRecord));
    const next = start + this.pageSize;
    return next < ids.length ? { items, nextCursor: String(next) } : { items };
  }

  async ready(options?: CallOptions): Promise<void> {
    await this.#enter('ready', options);
  }

  async close(): Promise<void> {}

  /** Writes behind the broker's back, as another client of the same store would. */
  writeOutside(id: string, value: string): void {
    this.#live(id).versions.push(this.#record(id, { value, encoding: 'utf8' }));
  }

  #live(id: string): Stored {
    const stored = this.#secrets.get(id);
    if (!stored || stored.pending) throw notFound(id);
    return stored;
  }

  #record(id: string, input: Omit<CreateInput, 'id'>): SecretRecord {
    const now = new Date().toISOString();
    return {
      id,
      value: input.value,
      encoding: input.encoding,
      version: String(++this.#counter),
      ...(input.description !== undefined ? { description: input.description } : {}),
      ...(input.tags !== undefined ? { tags: input.tags } : {}),
      createdAt: now,
      updatedAt: now,
    };
  }

  async #enter(operation: Operation, options?: CallOptions): Promise<void> {
    this.calls[operation]++;
    if (this.delayMs > 0) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, this.delayMs);
        options?.signal?.addEventListener('abort', () => {
          clearTimeout(timer);
          reject(options.signal?.reason);
        });
      });
    }
    const queued = this.#failures.get(operation);
    if (queued?.length) throw queued.shift();
  }
}

function strip(record: SecretRecord): SecretMetadata {
  const { value: _value, ...meta } = record;
  return meta;
}

/** The memory backend with a `getMany` that records each batch, declaring batch reads unless told not to. */
export class BatchingMemoryBackend extends MemoryBackend {
  readonly batches: string[][] = [];
  override readonly capabilities: BackendCapabilities;

  constructor(declared = true) {
    super();
    this.capabilities = { ...new MemoryBackend().capabilities, batchRead: declared };
  }

  async getMany(ids: readonly string[], options?: CallOptions): Promise<Map<string, BatchReadResult>> {
    this.batches.push([...ids]);
    const results = new Map<string, BatchReadResult>();
    for (const id of ids) results.set(id, await this.get(id, undefined, options).catch((err) => err));
    return results;
  }
}
