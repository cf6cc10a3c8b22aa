/**
 * The AWS Secrets Manager backend: one SDK call (or a few) per contract method, every vendor error
 * mapped at this boundary. Locks, retries, preconditions and the cache live in the broker above.
 */

import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  RestoreSecretCommand,
  type SecretsManagerClient,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateSecretCommand,
} from '@aws-sdk/client-secrets-manager';
import type {
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
} from '../contract.js';
import { notFound, SecretError } from '../errors.js';
import { BATCH_GET_MAX_IDS, batchGetSecretValues, batchResults } from './batch-get.js';
import { awsBackend } from './definition.js';
import { type AwsAction, mapAwsError } from './map-aws-error.js';
import { MetadataMemory } from './metadata-memory.js';
import { RecentTokens } from './recent-tokens.js';
import {
  clientRequestToken,
  describedSecret,
  isVersionId,
  listedSecret,
  nameFilter,
  readValue,
  tagChanges,
  toAwsTags,
  valueFields,
} from './secret-shapes.js';

/** ListSecrets answers at most 100 entries per call. */
const MAX_PAGE_SIZE = 100;

export interface AwsBackendSettings {
  recoveryWindowDays: number;
  kmsKeyId?: string;
  /** Whether `close()` destroys the client: only when the backend built it. */
  ownsClient: boolean;
  /** How long description, tags and creation date seen by this backend are reused by reads. */
  metadataTtlMs?: number;
}

/**
 * Implements {@link SecretBackend} over one `SecretsManagerClient`.
 *
 * What AWS cannot say, and how this backend answers:
 * - `describe` and `listPage` report `encoding: 'utf8'` for every secret: only reading the value
 *   shows whether it is binary, and no hidden marker tags are written. `get` reports the truth.
 * - `put` ignores `ifVersion`: Secrets Manager has no check-and-set, so the broker's lock and its
 *   version check under that lock are what prevent lost updates.
 * - List order is the service's (by creation date); a NextToken resumes the same sequence.
 * - `get` is one GetSecretValue call. Description, tags and creation date come from what this
 *   backend saw of the secret in the last `metadataTtlMs` (its writes, describes and list pages):
 *   a secret created and never listed or written through this broker reads without them, and a
 *   change made elsewhere shows on reads within that time. Lists always carry the service's own.
 */
export class AwsSecretsManagerBackend implements SecretBackend {
  readonly kind = awsBackend.name;
  readonly capabilities = awsBackend.capabilities;
  readonly #client: SecretsManagerClient;
  readonly #settings: AwsBackendSettings;
  readonly #deletesAttempted = new RecentTokens();
  readonly #metadata: MetadataMemory;

  constructor(client: SecretsManagerClient, settings: AwsBackendSettings) {
    this.#client = client;
    this.#settings = settings;
    this.#metadata = new MetadataMemory(settings.metadataTtlMs);
  }

  /** One GetSecretValue call; description, tags and creation date from what this backend saw lately. */
  async get(id: string, version: string | undefined, options?: CallOptions): Promise<SecretRecord> {
    // AWS would answer a malformed VersionId with a validation error; no such version can exist.
    if (version !== undefined && !isVersionId(version)) {
      throw new SecretError('not_found', `secret '${id}' has no version '${version}'`);
    }
    const answer = await this.#call(
      'read',
      id,
      (abortSignal) =>
        this.#client.send(new GetSecretValueCommand({ SecretId: id, VersionId: version }), { abortSignal }),
      options,
    );
    return {
      id,
      ...readValue(answer),
      version: answer.VersionId ?? '',
      ...this.#metadata.lookup(id),
      // The date this version was made: for the current version, when the value last changed.
      ...(answer.CreatedDate ? { updatedAt: answer.CreatedDate.toISOString() } : {}),
    };
  }

  /** One BatchGetSecretValue call for up to 20 ids; metadata as for `get`. */
  async getMany(ids: readonly string[], options?: CallOptions): Promise<Map<string, BatchReadResult>> {
    if (ids.length > BATCH_GET_MAX_IDS) {
      throw new SecretError('invalid_request', `at most ${BATCH_GET_MAX_IDS} secrets can be read in one batch`);
    }
    const answer = await this.#call(
      'read',
      undefined,
      (abortSignal) => batchGetSecretValues(this.#client, ids, abortSignal),
      options,
    );
    return batchResults(ids, answer, (id) => this.#metadata.lookup(id));
  }

  async describe(id: string, options?: CallOptions): Promise<SecretDescription> {
    const answer = await this.#call(
      'read',
      id,
      (abortSignal) => this.#client.send(new DescribeSecretCommand({ SecretId: id }), { abortSignal }),
      options,
    );
    const described = describedSecret(id, answer);
    if (described.pendingDeletion) this.#metadata.forget(id);
    else this.#metadata.remember(id, described);
    return described;
  }

  async create(input: CreateInput, options?: CallOptions): Promise<SecretMetadata> {
    const token = clientRequestToken(options?.requestToken);
    const command = new CreateSecretCommand({
      Name: input.id,
      ...valueFields(input.value, input.encoding),
      ...(input.description ? { Description: input.description } : {}),
      ...(input.tags && Object.keys(input.tags).length > 0 ? { Tags: toAwsTags(input.tags) } : {}),
      ...(this.#settings.kmsKeyId ? { KmsKeyId: this.#settings.kmsKeyId } : {}),
      ...(token ? { ClientRequestToken: token } : {}),
    });
    try {
      const answer = await this.#call(
        'create',
        input.id,
        (abortSignal) => this.#client.send(command, { abortSignal }),
        options,
      );
      const now = new Date().toISOString();
      const created = { ...writtenMetadata(input, answer.VersionId), createdAt: now, updatedAt: now };
      this.#metadata.remember(input.id, created);
      return created;
    } catch (err) {
      if (!(err instanceof SecretError) || err.code !== 'already_exists') throw err;
      return this.#explainExisting(input, token, err, options);
    }
  }

  /**
   * Replaces the value (PutSecretValue), then the description (UpdateSecret) and the tags
   * (TagResource / UntagResource), each only when it changed. Every step is safe to repeat, so the
   * retry layer may run the whole method again: the same ClientRequestToken yields the same version.
   */
  async put(id: string, input: PutInput, options?: CallOptions): Promise<SecretMetadata> {
    const current = await this.describe(id, options);
    // AWS refuses writes to a secret scheduled for deletion, but not every emulator does.
    if (current.pendingDeletion) throw notFound(id);
    const token = clientRequestToken(options?.requestToken);
    const answer = await this.#call(
      'write',
      id,
      (abortSignal) =>
        this.#client.send(
          new PutSecretValueCommand({
            SecretId: id,
            ...valueFields(input.value, input.encoding),
            ...(token ? { ClientRequestToken: token } : {}),
          }),
          { abortSignal },
        ),
      options,
    );
    await this.#syncDescription(id, current.description, input.description, options);
    await this.#syncTags(id, current.tags, input.tags, options);
    const description = input.description ?? current.description;
    const tags = input.tags ?? current.tags;
    const written = {
      ...writtenMetadata({ id, encoding: input.encoding, description, tags }, answer.VersionId),
      ...(current.createdAt ? { createdAt: current.createdAt } : {}),
      // The service's LastChangedDate would need another call; the write happened just now.
      updatedAt: new Date().toISOString(),
    };
    this.#metadata.remember(id, written);
    return written;
  }

  async delete(id: string, input: DeleteInput, options?: CallOptions): Promise<void> {
    const token = options?.requestToken;
    this.#metadata.forget(id);
    const isRetry = token !== undefined && this.#deletesAttempted.has(token);
    if (token !== undefined) this.#deletesAttempted.add(token);
    try {
      // AWS answers a forced delete of a name that does not exist with success: ask first.
      if (input.force) await this.describe(id, options);
      const deletion = input.force
        ? { ForceDeleteWithoutRecovery: true }
        : { RecoveryWindowInDays: this.#settings.recoveryWindowDays };
      await this.#call(
        'delete',
        id,
        (abortSignal) => this.#client.send(new DeleteSecretCommand({ SecretId: id, ...deletion }), { abortSignal }),
        options,
      );
    } catch (err) {
      // A retry finding the secret gone means the earlier attempt, whose answer was lost, succeeded.
      if (isRetry && err instanceof SecretError && err.code === 'not_found') return;
      throw err;
    }
  }

  /**
   * RestoreSecret, then DescribeSecret for the metadata it does not answer (and for later reads).
   * AWS restores a live secret without complaint, so a retried restore succeeds.
   */
  async restore(id: string, options?: CallOptions): Promise<SecretMetadata> {
    await this.#call(
      'write',
      id,
      (abortSignal) => this.#client.send(new RestoreSecretCommand({ SecretId: id }), { abortSignal }),
      options,
    );
    const { pendingDeletion: _pending, ...restored } = await this.describe(id, options);
    return restored;
  }

  /** One ListSecrets call; the `name` filter narrows it server-side and is re-checked here. */
  async listPage(query: ListPageQuery, options?: CallOptions): Promise<ListPage> {
    const answer = await this.#call(
      'list',
      undefined,
      (abortSignal) =>
        this.#client.send(
          new ListSecretsCommand({
            MaxResults: Math.max(1, Math.min(MAX_PAGE_SIZE, query.pageSize)),
            NextToken: query.cursor,
            Filters: nameFilter(query.prefix),
          }),
          { abortSignal },
        ),
      options,
    );
    const prefix = query.prefix ?? '';
    const items = (answer.SecretList ?? [])
      .filter((entry) => !entry.DeletedDate && entry.Name !== undefined && entry.Name.startsWith(prefix))
      .map(listedSecret);
    for (const item of items) this.#metadata.remember(item.id, item);
    return answer.NextToken ? { items, nextCursor: answer.NextToken } : { items };
  }

  /** Resolves credentials (IRSA: one STS call, then cached), then makes the cheapest authorised call. */
  async ready(options?: CallOptions): Promise<void> {
    await this.#call('ready', undefined, () => this.#client.config.credentials(), options);
    await this.#call(
      'ready',
      undefined,
      (abortSignal) => this.#client.send(new ListSecretsCommand({ MaxResults: 1 }), { abortSignal }),
      options,
    );
  }

  async close(): Promise<void> {
    if (this.#settings.ownsClient) this.#client.destroy();
  }

  /** A create met an existing name: scheduled for deletion, our own earlier attempt, or a real clash. */
  async #explainExisting(
    input: CreateInput,
    token: string | undefined,
    clash: SecretError,
    options: CallOptions | undefined,
  ): Promise<SecretMetadata> {
    let existing: SecretDescription;
    try {
      existing = await this.describe(input.id, options);
    } catch {
      throw clash;
    }
    if (existing.pendingDeletion) {
      throw new SecretError('pending_deletion', `secret '${input.id}' is scheduled for deletion`, { cause: clash });
    }
    // Our own earlier attempt created it and its answer was lost: the retry succeeded.
    if (token !== undefined && existing.version === token) {
      const { pendingDeletion: _pending, ...metadata } = existing;
      return { ...metadata, encoding: input.encoding };
    }
    throw clash;
  }

  async #syncDescription(
    id: string,
    current: string | undefined,
    wanted: string | undefined,
    options: CallOptions | undefined,
  ): Promise<void> {
    if (wanted === undefined || wanted === (current ?? '')) return;
    await this.#call(
      'write',
      id,
      (abortSignal) =>
        this.#client.send(new UpdateSecretCommand({ SecretId: id, Description: wanted }), { abortSignal }),
      options,
    );
  }

  async #syncTags(
    id: string,
    current: Record<string, string> | undefined,
    wanted: Record<string, string> | undefined,
    options: CallOptions | undefined,
  ): Promise<void> {
    if (wanted === undefined) return;
    const { set, remove } = tagChanges(current, wanted);
    if (remove.length > 0) {
      await this.#call(
        'write',
        id,
        (abortSignal) =>
          this.#client.send(new UntagResourceCommand({ SecretId: id, TagKeys: remove }), { abortSignal }),
        options,
      );
    }
    if (Object.keys(set).length > 0) {
      await this.#call(
        'write',
        id,
        (abortSignal) =>
          this.#client.send(new TagResourceCommand({ SecretId: id, Tags: toAwsTags(set) }), { abortSignal }),
        options,
      );
    }
  }

  /** Runs one SDK call with the caller's abort signal and maps whatever it throws. */
  async #call<T>(
    action: AwsAction,
    id: string | undefined,
    run: (abortSignal: AbortSignal | undefined) => Promise<T>,
    options?: CallOptions,
  ): Promise<T> {
    try {
      return await run(options?.signal);
    } catch (err) {
      throw mapAwsError(err, action, id);
    }
  }
}

/** Metadata of a value just written, from what was sent and the VersionId AWS answered. */
function writtenMetadata(
  fields: Pick<SecretMetadata, 'id' | 'encoding' | 'description' | 'tags'>,
  versionId: string | undefined,
): SecretMetadata {
  return {
    id: fields.id,
    version: versionId ?? '',
    encoding: fields.encoding,
    ...(fields.description ? { description: fields.description } : {}),
    ...(fields.tags && Object.keys(fields.tags).length > 0 ? { tags: fields.tags } : {}),
  };
}
