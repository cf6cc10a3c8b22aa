/**
 * The Vault KV version 2 backend. A secret is one KV key: its data holds `value` and `encoding`, its
 * `custom_metadata` the description and tags (see key-metadata.ts). Every data write passes `cas`,
 * so Vault itself refuses a write based on a version another writer has since replaced.
 *
 * Deletes: a recoverable delete soft-deletes the current version; it stays recoverable (undelete)
 * until someone destroys it or force-deletes the key: Vault has no automatic recovery window.
 * A forced delete removes the metadata and every version. A restore undeletes the current version.
 */

import { Buffer } from 'node:buffer';
import type {
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
} from '../contract.js';
import { notFound, SecretError } from '../errors.js';
import { vaultBackend } from './definition.js';
import {
  describeKey,
  type KeyState,
  keyState,
  mergeBrokerFields,
  metadataOf,
  readBrokerFields,
  sameStringMap,
} from './key-metadata.js';
import type { KvStore, KvWriteResult } from './kv-store.js';
import { OrderedKeyWalk } from './ordered-key-walk.js';
import type { VaultSession } from './session.js';
import { toSecretError } from './vault-errors.js';
import type { VaultHealth } from './vault-health.js';

/** Metadata reads in flight at once while a list page is assembled. */
const LIST_METADATA_CONCURRENCY = 16;

export interface VaultBackendParts {
  kv: KvStore;
  session: VaultSession;
  health: VaultHealth;
  listMaxKeys: number;
  now: () => number;
  /** Closes the transport's sockets. */
  closeTransport: () => void;
}

export class VaultBackend implements SecretBackend {
  readonly kind = vaultBackend.name;
  readonly capabilities = vaultBackend.capabilities;
  readonly #kv: KvStore;
  readonly #session: VaultSession;
  readonly #health: VaultHealth;
  readonly #listMaxKeys: number;
  readonly #now: () => number;
  readonly #closeTransport: () => void;

  constructor(parts: VaultBackendParts) {
    this.#kv = parts.kv;
    this.#session = parts.session;
    this.#health = parts.health;
    this.#listMaxKeys = parts.listMaxKeys;
    this.#now = parts.now;
    this.#closeTransport = parts.closeTransport;
  }

  async get(id: string, version: string | undefined, options: CallOptions = {}): Promise<SecretRecord> {
    const wanted = version === undefined ? undefined : versionNumber(version);
    if (wanted === null) throw notFound(id);
    if (wanted !== undefined) {
      // Vault serves older versions of a soft-deleted key; the broker hides the whole secret.
      const meta = await this.#kv.readMetadata(id, options);
      if (keyState(meta, this.#now()) !== 'live') throw notFound(id);
    }
    const read = await this.#kv.readData(id, wanted, options);
    if (!read?.data) throw notFound(id);
    const { value, encoding } = storedValue(read.data);
    const { description, tags } = readBrokerFields(read.metadata.custom_metadata);
    return {
      id,
      value,
      encoding,
      version: String(read.metadata.version),
      ...(description === undefined ? {} : { description }),
      ...(tags === undefined ? {} : { tags }),
      ...(read.metadata.created_time ? { updatedAt: read.metadata.created_time } : {}),
    };
  }

  async describe(id: string, options: CallOptions = {}): Promise<SecretDescription> {
    const meta = await this.#kv.readMetadata(id, options);
    if (!meta || keyState(meta, this.#now()) === 'absent') throw notFound(id);
    return describeKey(id, meta, this.#now());
  }

  async create(input: CreateInput, options: CallOptions = {}): Promise<SecretMetadata> {
    const meta = await this.#kv.readMetadata(input.id, options);
    const taken = takenError(input.id, keyState(meta, this.#now()));
    if (taken) throw taken;
    // A key whose versions were all destroyed keeps its metadata; cas must then name its last version.
    const cas = meta?.current_version ?? 0;
    // Metadata first: if the data write then fails, a retry finds the id still free (version 0).
    const custom = mergeBrokerFields(meta?.custom_metadata, { ...fieldsOf(input), tags: input.tags ?? {} });
    const metadataFirst = !sameStringMap(meta?.custom_metadata, custom);
    if (metadataFirst) await this.#kv.writeCustomMetadata(input.id, custom, options);
    let written: KvWriteResult;
    try {
      written = await this.#kv.writeData(input.id, dataOf(input), cas, options);
    } catch (err) {
      if (!(err instanceof SecretError) || err.code !== 'precondition_failed') throw err;
      // Another writer created it between our read and our write.
      const state = keyState(await this.#kv.readMetadata(input.id, options), this.#now());
      throw takenError(input.id, state === 'pending_deletion' ? state : 'live') ?? err;
    }
    // A key created by the metadata write has that write's time, which Vault did not tell us.
    const createdAt = meta?.created_time ?? (metadataFirst ? undefined : written.created_time);
    return writtenMetadata(input.id, custom, written, createdAt);
  }

  async put(id: string, input: PutInput, options: CallOptions = {}): Promise<SecretMetadata> {
    const meta = await this.#kv.readMetadata(id, options);
    if (!meta || keyState(meta, this.#now()) !== 'live') throw notFound(id);
    const expected = input.ifVersion ?? String(meta.current_version);
    // Fail before writing anything; the cas on the data write still guards the race after this read.
    if (expected !== String(meta.current_version)) throw versionMoved(id);
    const custom = mergeBrokerFields(meta.custom_metadata, fieldsOf(input));
    if (!sameStringMap(meta.custom_metadata, custom)) await this.#kv.writeCustomMetadata(id, custom, options);
    const written = await this.#kv.writeData(id, dataOf(input), meta.current_version, options);
    return writtenMetadata(id, custom, written, meta.created_time);
  }

  async delete(id: string, input: DeleteInput, options: CallOptions = {}): Promise<void> {
    const meta = await this.#kv.readMetadata(id, options);
    const state = keyState(meta, this.#now());
    if (!meta || state === 'absent' || (state === 'pending_deletion' && !input.force)) throw notFound(id);
    if (input.ifVersion !== undefined && input.ifVersion !== String(meta.current_version)) throw versionMoved(id);
    if (input.force) await this.#kv.deleteKey(id, options);
    else await this.#kv.softDeleteVersions(id, [meta.current_version], options);
  }

  /**
   * Undeletes the current version, the one a recoverable delete soft-deleted. A version destroyed
   * since, or a key force-deleted, leaves nothing to restore.
   */
  async restore(id: string, options: CallOptions = {}): Promise<SecretMetadata> {
    const meta = await this.#kv.readMetadata(id, options);
    const state = keyState(meta, this.#now());
    if (!meta || state === 'absent') throw notFound(id);
    if (state === 'pending_deletion') await this.#kv.undeleteVersions(id, [meta.current_version], options);
    return metadataOf(id, meta);
  }

  async listPage(query: ListPageQuery, options: CallOptions = {}): Promise<ListPage> {
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    const walk = new OrderedKeyWalk(this.#kv, {
      prefix: query.prefix ?? '',
      ...(after === undefined ? {} : { after }),
      maxKeys: this.#listMaxKeys,
      call: options,
    });
    const items: SecretMetadata[] = [];
    let last: string | undefined;
    while (items.length < query.pageSize) {
      const ids = await takeIds(walk, Math.min(LIST_METADATA_CONCURRENCY, query.pageSize - items.length));
      if (ids.length === 0) break;
      items.push(...(await this.#liveMetadata(ids, options)));
      last = ids[ids.length - 1];
    }
    // A walk cut short by listMaxKeys resumes after `last`; otherwise one more id decides.
    const more = walk.truncated || (items.length >= query.pageSize && (await walk.next()) !== undefined);
    return more && last !== undefined ? { items, nextCursor: encodeCursor(last) } : { items };
  }

  async ready(options: CallOptions = {}): Promise<void> {
    await this.#health.assertServing(options);
    try {
      await this.#session.lookupSelf(options.signal);
    } catch (err) {
      throw toSecretError(err, { action: 'token lookup' });
    }
  }

  async close(): Promise<void> {
    await this.#session.revoke();
    this.#closeTransport();
  }

  async #liveMetadata(ids: string[], options: CallOptions): Promise<SecretMetadata[]> {
    const metas = await Promise.all(ids.map((id) => this.#kv.readMetadata(id, options)));
    const now = this.#now();
    return ids.flatMap((id, i) => {
      const meta = metas[i];
      return meta && keyState(meta, now) === 'live' ? [metadataOf(id, meta)] : [];
    });
  }
}

/** What a write returns: the version just written and the broker fields as now stored. */
function writtenMetadata(
  id: string,
  custom: Record<string, string>,
  written: KvWriteResult,
  createdAt: string | undefined,
): SecretMetadata {
  return metadataOf(id, {
    current_version: written.version,
    created_time: createdAt ?? '',
    updated_time: written.created_time,
    custom_metadata: custom,
    versions: {},
  });
}

/** Why a create cannot take the id, or undefined when the id is free. */
function takenError(id: string, state: KeyState): SecretError | undefined {
  if (state === 'live') return new SecretError('already_exists', `secret '${id}' already exists`);
  if (state === 'pending_deletion') {
    return new SecretError(
      'pending_deletion',
      `secret '${id}' is deleted but recoverable; force-delete it to reuse the id`,
    );
  }
  return undefined;
}

function versionMoved(id: string): SecretError {
  return new SecretError('precondition_failed', `secret '${id}' is no longer at the expected version`);
}

/** Vault versions are positive integers; anything else names no version. */
function versionNumber(version: string): number | null {
  return /^[1-9]\d{0,15}$/.test(version) ? Number(version) : null;
}

function fieldsOf(input: { encoding: CreateInput['encoding']; description?: string; tags?: Record<string, string> }) {
  return {
    encoding: input.encoding,
    ...(input.description === undefined ? {} : { description: input.description }),
    ...(input.tags === undefined ? {} : { tags: input.tags }),
  };
}

function dataOf(input: { value: string; encoding: CreateInput['encoding'] }): Record<string, string> {
  return { value: input.value, encoding: input.encoding };
}

/**
 * The value of a version. Data written by other tools (no string `value`) is returned as its JSON
 * text, so such keys stay readable through the broker.
 */
function storedValue(data: Record<string, unknown>): Pick<SecretRecord, 'value' | 'encoding'> {
  if (typeof data.value === 'string') {
    return { value: data.value, encoding: data.encoding === 'base64' ? 'base64' : 'utf8' };
  }
  return { value: JSON.stringify(data), encoding: 'utf8' };
}

async function takeIds(walk: OrderedKeyWalk, count: number): Promise<string[]> {
  const ids: string[] = [];
  while (ids.length < count) {
    const id = await walk.next();
    if (id === undefined) break;
    ids.push(id);
  }
  return ids;
}

function encodeCursor(lastId: string): string {
  return Buffer.from(lastId, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  const id = /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  if (id === '') throw new SecretError('invalid_request', 'list cursor is not one this backend issued');
  return id;
}
