/**
 * A backend wrapper that can hold one read's answer: the read happens at once (so it sees what
 * the store held then), but its answer is handed back only when the test lets it go. It stands for
 * a slow backend answering a read that started before some write.
 */
import type {
  BatchReadResult,
  CallOptions,
  CreateInput,
  DeleteInput,
  ListPageQuery,
  PutInput,
  SecretBackend,
} from '../../agent/backends/contract.js';

export class GatedReads implements SecretBackend {
  #gate: { readDone: () => void; open: Promise<void> } | undefined;
  /** Reads started since the last `holdNextRead`. */
  readsStarted = 0;

  /** Present when the wrapped backend has it, so the broker batches as it would without the wrapper. */
  readonly getMany?: (ids: readonly string[], options?: CallOptions) => Promise<Map<string, BatchReadResult>>;

  constructor(readonly inner: SecretBackend) {
    if (inner.getMany) this.getMany = (ids, options) => inner.getMany!(ids, options);
  }

  get capabilities() {
    return this.inner.capabilities;
  }

  get kind(): string {
    return this.inner.kind;
  }

  /**
   * The next read is held after it has read. Resolves `read` once it has, and `release` lets its
   * answer go.
   */
  holdNextRead(): { read: Promise<void>; release: () => void } {
    let readDone: () => void = () => undefined;
    let release: () => void = () => undefined;
    const read = new Promise<void>((resolve) => {
      readDone = resolve;
    });
    const open = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.#gate = { readDone, open };
    this.readsStarted = 0;
    return { read, release };
  }

  async get(id: string, version: string | undefined, options?: CallOptions) {
    this.readsStarted++;
    const gate = this.#gate;
    this.#gate = undefined;
    const record = await this.inner.get(id, version, options);
    if (gate !== undefined) {
      gate.readDone();
      await gate.open;
    }
    return record;
  }

  describe(id: string, options?: CallOptions) {
    return this.inner.describe(id, options);
  }
  create(input: CreateInput, options?: CallOptions) {
    return this.inner.create(input, options);
  }
  put(id: string, input: PutInput, options?: CallOptions) {
    return this.inner.put(id, input, options);
  }
  delete(id: string, input: DeleteInput, options?: CallOptions) {
    return this.inner.delete(id, input, options);
  }
  restore(id: string, options?: CallOptions) {
    return this.inner.restore(id, options);
  }
  listPage(query: ListPageQuery, options?: CallOptions) {
    return this.inner.listPage(query, options);
  }
  ready(options?: CallOptions) {
    return this.inner.ready(options);
  }
  close() {
    return this.inner.close();
  }
}
