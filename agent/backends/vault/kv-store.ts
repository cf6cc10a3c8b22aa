/**
 * Typed calls to one KV version 2 mount (`<mount>/data`, `/metadata`, `/delete`, `/undelete`), each made with the
 * session's token and mapped to the broker's error kinds. Policy (what a state means, which call
 * comes first) lives in the backend; this file only speaks the API.
 */
import type NodeVault from 'node-vault';
import type { CallOptions } from '../contract.js';
import type { VaultSession } from './session.js';
import { type ErrorSubject, isMissing, toSecretError } from './vault-errors.js';

/** One version's entry in a key's metadata. `deletion_time` is '' or an RFC 3339 time. */
export interface KvVersionInfo {
  created_time: string;
  deletion_time: string;
  destroyed: boolean;
}

/** `GET <mount>/metadata/<id>`: version-agnostic facts about a key. */
export interface KvKeyMetadata {
  current_version: number;
  oldest_version?: number;
  created_time: string;
  updated_time: string;
  max_versions?: number;
  cas_required?: boolean;
  custom_metadata: Record<string, string> | null;
  versions: Record<string, KvVersionInfo>;
}

/** `GET <mount>/data/<id>`: one version's data and facts. */
export interface KvSecretVersion {
  data: Record<string, unknown> | null;
  metadata: KvVersionInfo & { version: number; custom_metadata: Record<string, string> | null };
}

/** `POST <mount>/data/<id>`: the version just written. */
export interface KvWriteResult {
  version: number;
  created_time: string;
}

export class KvStore {
  readonly #client: NodeVault.client;
  readonly #session: VaultSession;
  readonly #mount: string;

  constructor(client: NodeVault.client, session: VaultSession, mount: string) {
    this.#client = client;
    this.#session = session;
    this.#mount = mount.replace(/^\/+|\/+$/g, '');
  }

  /** One version (the latest when `version` is undefined). Deleted and destroyed versions are `not_found`. */
  async readData(id: string, version: number | undefined, options: CallOptions = {}): Promise<KvSecretVersion> {
    const query = version === undefined ? '' : `?version=${version}`;
    const body = await this.#call({ id, action: 'read' }, options, (o) =>
      this.#client.read(`${this.#path('data', id)}${query}`, o),
    );
    return body.data as KvSecretVersion;
  }

  /** Writes a new version; Vault refuses it unless `cas` is the key's current version (0: no key yet). */
  async writeData(
    id: string,
    data: Record<string, string>,
    cas: number,
    options: CallOptions = {},
  ): Promise<KvWriteResult> {
    const payload = { options: { cas }, data };
    const body = await this.#call({ id, action: 'write' }, options, (o) =>
      this.#client.write(this.#path('data', id), payload, o),
    );
    return body.data as KvWriteResult;
  }

  /** The key's metadata, or undefined when Vault has none for it. */
  async readMetadata(id: string, options: CallOptions = {}): Promise<KvKeyMetadata | undefined> {
    try {
      const body = await this.#send(options, (o) => this.#client.read(this.#path('metadata', id), o));
      return body.data as KvKeyMetadata;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw toSecretError(err, { id, action: 'read metadata' });
    }
  }

  /** Replaces `custom_metadata` only; other settings (max_versions, cas_required, ...) are left as they are. */
  async writeCustomMetadata(
    id: string,
    customMetadata: Record<string, string>,
    options: CallOptions = {},
  ): Promise<void> {
    const payload = { custom_metadata: customMetadata };
    await this.#call({ id, action: 'write metadata' }, options, (o) =>
      this.#client.write(this.#path('metadata', id), payload, o),
    );
  }

  /** Soft delete: the versions stay recoverable (undelete) until someone destroys them. */
  async softDeleteVersions(id: string, versions: number[], options: CallOptions = {}): Promise<void> {
    await this.#call({ id, action: 'delete' }, options, (o) =>
      this.#client.write(this.#path('delete', id), { versions }, o),
    );
  }

  /** Cancels a soft delete of these versions; undeleting a version that is not deleted changes nothing. */
  async undeleteVersions(id: string, versions: number[], options: CallOptions = {}): Promise<void> {
    await this.#call({ id, action: 'restore' }, options, (o) =>
      this.#client.write(this.#path('undelete', id), { versions }, o),
    );
  }

  /** Deletes the metadata and every version: permanent, and frees the id. */
  async deleteKey(id: string, options: CallOptions = {}): Promise<void> {
    await this.#call({ id, action: 'delete' }, options, (o) => this.#client.delete(this.#path('metadata', id), o));
  }

  /** One folder level: names, with folders ending in '/'. A folder with nothing in it is empty, not an error. */
  async listFolder(folder: string, options: CallOptions = {}): Promise<string[]> {
    try {
      const body = await this.#send(options, (o) => this.#client.list(this.#folderPath(folder), o));
      const keys = (body.data as { keys?: unknown } | undefined)?.keys;
      return Array.isArray(keys) ? keys.filter((k): k is string => typeof k === 'string') : [];
    } catch (err) {
      if (isMissing(err)) return [];
      throw toSecretError(err, { action: 'list' });
    }
  }

  async #call(
    subject: ErrorSubject,
    options: CallOptions,
    request: (requestOptions: Record<string, unknown>) => Promise<unknown>,
  ): Promise<{ data?: unknown }> {
    try {
      return await this.#send(options, request);
    } catch (err) {
      throw toSecretError(err, subject);
    }
  }

  /** The call with the session's token; errors come back unmapped. */
  async #send(
    options: CallOptions,
    request: (requestOptions: Record<string, unknown>) => Promise<unknown>,
  ): Promise<{ data?: unknown }> {
    const { signal } = options;
    const body = await this.#session.withToken((token) => request(this.#session.requestOptions(token, signal)), signal);
    return (body ?? {}) as { data?: unknown };
  }

  #path(kind: 'data' | 'metadata' | 'delete' | 'undelete', id: string): string {
    return `${this.#mount}/${kind}/${encodePath(id)}`;
  }

  #folderPath(folder: string): string {
    return `${this.#mount}/metadata/${encodePath(folder)}`;
  }
}

/** Each segment percent-encoded; the slashes between them stay, since Vault paths are hierarchical. */
function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}
