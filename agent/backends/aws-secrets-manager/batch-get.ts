/**
 * Batch reads through `BatchGetSecretValue`: up to 20 names in one call, each answered with its
 * value or its own error, so one missing or forbidden secret does not fail the others.
 */
import {
  type APIErrorType,
  BatchGetSecretValueCommand,
  type SecretsManagerClient,
  type SecretValueEntry,
} from '@aws-sdk/client-secrets-manager';
import type { BatchReadResult, SecretMetadata } from '../contract.js';
import { notFound } from '../errors.js';
import { mapAwsError } from './map-aws-error.js';
import { readValue } from './secret-shapes.js';

/** The most names one BatchGetSecretValue call takes in `SecretIdList`. */
export const BATCH_GET_MAX_IDS = 20;

/** Pages an answer may be split into; with 20 names of at most 64 KiB each, AWS needs one or two. */
const MAX_PAGES = 20;

export interface BatchAnswer {
  values: SecretValueEntry[];
  errors: APIErrorType[];
}

/** One BatchGetSecretValue request, following `NextToken` should AWS split a large answer. */
export async function batchGetSecretValues(
  client: SecretsManagerClient,
  ids: readonly string[],
  abortSignal: AbortSignal | undefined,
): Promise<BatchAnswer> {
  const answer: BatchAnswer = { values: [], errors: [] };
  let nextToken: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const command = new BatchGetSecretValueCommand({ SecretIdList: [...ids], NextToken: nextToken });
    const part = await client.send(command, { abortSignal });
    answer.values.push(...(part.SecretValues ?? []));
    answer.errors.push(...(part.Errors ?? []));
    nextToken = part.NextToken;
    if (!nextToken) break;
  }
  return answer;
}

/**
 * Each asked id's result: its value (with the metadata this backend remembers), the error AWS
 * reported for it, mapped as a read's would be, or `not_found` when AWS said nothing of it.
 */
export function batchResults(
  ids: readonly string[],
  answer: BatchAnswer,
  remembered: (id: string) => Partial<SecretMetadata>,
): Map<string, BatchReadResult> {
  const values = new Map(answer.values.map((entry) => [entry.Name, entry]));
  const errors = new Map(answer.errors.map((error) => [error.SecretId, error]));
  const results = new Map<string, BatchReadResult>();
  for (const id of ids) {
    const entry = values.get(id);
    const error = errors.get(id);
    if (entry !== undefined) {
      results.set(id, {
        id,
        ...readValue(entry),
        version: entry.VersionId ?? '',
        ...remembered(id),
        ...(entry.CreatedDate ? { updatedAt: entry.CreatedDate.toISOString() } : {}),
      });
    } else if (error !== undefined) {
      // AWS's message stays in the cause: it could echo input, and the id names the secret already.
      results.set(id, mapAwsError({ name: error.ErrorCode, message: error.Message }, 'read', id));
    } else {
      results.set(id, notFound(id));
    }
  }
  return results;
}
