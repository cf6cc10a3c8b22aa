/**
 * One KV version 2 mount, after Vault's API documentation ("KV secrets engine - version 2 (API)"):
 * versioned data with `options.cas` and `cas_required`; soft delete, undelete and destroy of
 * versions; metadata with `max_versions`, `delete_version_after` and `custom_metadata`; LIST of one
 * folder level. Missing things answer 404 `{"errors":[]}`; a deleted or destroyed version answers
 * 404 with `data: null` and the version's metadata, as Vault does.
 */

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

interface VersionRecord {
  data: Record<string, unknown> | null;
  created_time: string;
  deletion_time: string;
  destroyed: boolean;
}

interface KeyRecord {
  created_time: string;
  updated_time: string;
  current_version: number;
  oldest_version: number;
  max_versions: number;
  cas_required: boolean;
  delete_version_after: string;
  custom_metadata: Record<string, string> | null;
  versions: Map<number, VersionRecord>;
}

/** Vault's documented limits on `custom_metadata`. */
const CUSTOM_METADATA_MAX_KEYS = 64;
const CUSTOM_METADATA_MAX_KEY_LENGTH = 128;
const CUSTOM_METADATA_MAX_VALUE_LENGTH = 512;
const DEFAULT_MAX_VERSIONS = 10;

export const notFound = (): Reply => ({ status: 404, body: { errors: [] } });
export const badRequest = (message: string): Reply => ({ status: 400, body: { errors: [message] } });
const noContent = (): Reply => ({ status: 204 });

export class KvEngine {
  readonly #now: () => number;
  readonly #keys = new Map<string, KeyRecord>();
  config = { max_versions: 0, cas_required: false, delete_version_after: '0s' };

  constructor(now: () => number) {
    this.#now = now;
  }

  /** Whether a key (metadata) exists: Vault's ACL asks for `create` rather than `update` when it does not. */
  has(path: string): boolean {
    return this.#keys.has(path);
  }

  writeConfig(body: Record<string, unknown>): Reply {
    if (typeof body.max_versions === 'number') this.config.max_versions = body.max_versions;
    if (typeof body.cas_required === 'boolean') this.config.cas_required = body.cas_required;
    if (typeof body.delete_version_after === 'string') this.config.delete_version_after = body.delete_version_after;
    return noContent();
  }

  readConfig(): Reply {
    return { status: 200, body: { data: { ...this.config } } };
  }

  readData(path: string, versionParam: string | undefined): Reply {
    const key = this.#keys.get(path);
    const version = versionParam ? Number(versionParam) : (key?.current_version ?? 0);
    if (!Number.isInteger(version) || version < 0) return badRequest('invalid version');
    const record = key?.versions.get(version || (key?.current_version ?? 0));
    if (!key || !record) return notFound();
    const metadata = {
      created_time: record.created_time,
      custom_metadata: key.custom_metadata,
      deletion_time: record.deletion_time,
      destroyed: record.destroyed,
      version: version || key.current_version,
    };
    if (record.destroyed || this.#isDeleted(record)) return { status: 404, body: { data: { data: null, metadata } } };
    return { status: 200, body: { data: { data: record.data, metadata } } };
  }

  writeData(path: string, body: Record<string, unknown>): Reply {
    const data = body.data;
    if (!data || typeof data !== 'object' || Array.isArray(data)) return badRequest('no data provided');
    const cas = (body.options as { cas?: unknown } | undefined)?.cas;
    const existing = this.#keys.get(path);
    if (cas === undefined && (this.config.cas_required || existing?.cas_required)) {
      return badRequest('check-and-set parameter required for this call');
    }
    if (cas !== undefined && Number(cas) !== (existing?.current_version ?? 0)) {
      return badRequest('check-and-set parameter did not match the current version');
    }
    const key = existing ?? this.#newKey(path);
    const now = new Date(this.#now());
    const version = key.current_version + 1;
    const deleteAfter = this.#deleteAfterMs(key);
    key.versions.set(version, {
      data: structuredClone(data as Record<string, unknown>),
      created_time: now.toISOString(),
      deletion_time: deleteAfter > 0 ? new Date(now.getTime() + deleteAfter).toISOString() : '',
      destroyed: false,
    });
    key.current_version = version;
    key.updated_time = now.toISOString();
    this.#prune(key);
    const metadata = key.versions.get(version) as VersionRecord;
    return {
      status: 200,
      body: {
        data: {
          created_time: metadata.created_time,
          custom_metadata: key.custom_metadata,
          deletion_time: metadata.deletion_time,
          destroyed: false,
          version,
        },
      },
    };
  }

  /** `DELETE <mount>/data/<path>`: soft-deletes the latest version. */
  deleteLatest(path: string): Reply {
    const key = this.#keys.get(path);
    const record = key?.versions.get(key.current_version);
    if (record && !record.destroyed && !this.#isDeleted(record)) record.deletion_time = this.#nowIso();
    return noContent();
  }

  /** `POST <mount>/delete|undelete|destroy/<path>` with `{"versions": [...]}`. */
  changeVersions(action: 'delete' | 'undelete' | 'destroy', path: string, body: Record<string, unknown>): Reply {
    const versions = body.versions;
    if (!Array.isArray(versions) || versions.length === 0) return badRequest('no version number provided');
    const key = this.#keys.get(path);
    for (const v of versions) {
      const record = key?.versions.get(Number(v));
      if (!record) continue;
      if (action === 'destroy') {
        record.destroyed = true;
        record.data = null;
      } else if (!record.destroyed && action === 'delete' && !this.#isDeleted(record)) {
        record.deletion_time = this.#nowIso();
      } else if (!record.destroyed && action === 'undelete') {
        record.deletion_time = '';
      }
    }
    return noContent();
  }

  readMetadata(path: string): Reply {
    const key = this.#keys.get(path);
    if (!key) return notFound();
    const versions = Object.fromEntries(
      [...key.versions].map(([n, r]) => [
        String(n),
        { created_time: r.created_time, deletion_time: r.deletion_time, destroyed: r.destroyed },
      ]),
    );
    const { versions: _records, ...facts } = key;
    return { status: 200, body: { data: { ...facts, versions } } };
  }

  /** `POST <mount>/metadata/<path>`: creates the key if needed; only the fields given change. */
  writeMetadata(path: string, body: Record<string, unknown>): Reply {
    const invalid = validateMetadata(body);
    if (invalid) return badRequest(invalid);
    const fields = ['max_versions', 'cas_required', 'delete_version_after', 'custom_metadata'];
    // Vault's fast path: a write that sets nothing does not create the key either.
    if (!fields.some((field) => body[field] !== undefined)) return noContent();
    const key = this.#keys.get(path) ?? this.#newKey(path);
    if (body.max_versions !== undefined) key.max_versions = Number(body.max_versions);
    if (body.cas_required !== undefined) key.cas_required = body.cas_required === true;
    if (body.delete_version_after !== undefined) key.delete_version_after = String(body.delete_version_after);
    if (body.custom_metadata !== undefined)
      key.custom_metadata = { ...(body.custom_metadata as Record<string, string>) };
    this.#prune(key);
    return noContent();
  }

  deleteMetadata(path: string): Reply {
    this.#keys.delete(path);
    return noContent();
  }

  /** One folder level under `folder` ('' or ending in '/'): names, folders with a trailing '/'. */
  list(folder: string): Reply {
    const names = new Set<string>();
    for (const path of this.#keys.keys()) {
      if (!path.startsWith(folder)) continue;
      const rest = path.slice(folder.length);
      const slash = rest.indexOf('/');
      names.add(slash === -1 ? rest : rest.slice(0, slash + 1));
    }
    if (names.size === 0) return notFound();
    return { status: 200, body: { data: { keys: [...names].sort() } } };
  }

  #newKey(path: string): KeyRecord {
    const now = this.#nowIso();
    const key: KeyRecord = {
      created_time: now,
      updated_time: now,
      current_version: 0,
      oldest_version: 0,
      max_versions: 0,
      cas_required: false,
      delete_version_after: '0s',
      custom_metadata: null,
      versions: new Map(),
    };
    this.#keys.set(path, key);
    return key;
  }

  /** Beyond `max_versions` (the key's, else the mount's, else 10) the oldest versions are removed for good. */
  #prune(key: KeyRecord): void {
    const max = key.max_versions || this.config.max_versions || DEFAULT_MAX_VERSIONS;
    const numbers = [...key.versions.keys()].sort((a, b) => a - b);
    while (numbers.length > max) key.versions.delete(numbers.shift() as number);
    key.oldest_version = numbers[0] ?? 0;
  }

  /** The key's `delete_version_after`, capped by the mount's when both are set. */
  #deleteAfterMs(key: KeyRecord): number {
    const own = parseDuration(key.delete_version_after);
    const mount = parseDuration(this.config.delete_version_after);
    if (own > 0 && mount > 0) return Math.min(own, mount);
    return own || mount;
  }

  #isDeleted(record: VersionRecord): boolean {
    return record.deletion_time !== '' && Date.parse(record.deletion_time) <= this.#now();
  }

  #nowIso(): string {
    return new Date(this.#now()).toISOString();
  }
}

function validateMetadata(body: Record<string, unknown>): string | undefined {
  const custom = body.custom_metadata;
  if (custom === undefined || custom === null) return undefined;
  if (typeof custom !== 'object' || Array.isArray(custom)) return 'custom_metadata must be a map of strings';
  const entries = Object.entries(custom as Record<string, unknown>);
  if (entries.length > CUSTOM_METADATA_MAX_KEYS)
    return `custom_metadata may not have more than ${CUSTOM_METADATA_MAX_KEYS} keys`;
  for (const [key, value] of entries) {
    if (typeof value !== 'string') return `custom_metadata value for key "${key}" is not a string`;
    if (key.length === 0 || key.length > CUSTOM_METADATA_MAX_KEY_LENGTH)
      return `custom_metadata key "${key}" length is invalid`;
    if (value.length === 0 || value.length > CUSTOM_METADATA_MAX_VALUE_LENGTH) {
      return `custom_metadata validation failed: length of value for key "${key}" must be 0 < len(value) <= ${CUSTOM_METADATA_MAX_VALUE_LENGTH}`;
    }
  }
  return undefined;
}

/** Go duration strings as Vault accepts them here: `0s`, `90s`, `1h30m`, `500ms`. */
export function parseDuration(text: string): number {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g))
    total += Number(amount) * (units[unit as string] ?? 0);
  return /^\d+$/.test(text) ? Number(text) * 1000 : total;
}
