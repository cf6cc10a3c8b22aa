/**
 * AWS Secrets Manager behind the broker's backend contract.
 */
import type { SecretBackend } from '../contract.js';
import { AwsSecretsManagerBackend } from './aws-secrets-manager-backend.js';
import { type AwsBackendOptions, buildSecretsManagerClient } from './client.js';

export type { AwsBackendOptions } from './client.js';
export { mapAwsError } from './map-aws-error.js';

/**
 * Creates the AWS backend from settings the config loader has validated. Without `options.client` it builds one that never retries on its own,
 * enforces the request and connection timeouts, and takes credentials from the SDK's default chain
 * (IRSA on EKS Fargate).
 *
 * @example
 * ```ts
 * const backend = createAwsBackend({ region: 'eu-west-1', recoveryWindowDays: 7, requestTimeoutMs: 3000 });
 * await backend.ready();
 * const secret = await backend.get('prod/db/password', undefined);
 * ```
 */
export function createAwsBackend(options: AwsBackendOptions): SecretBackend {
  const client = options.client ?? buildSecretsManagerClient(options);
  return new AwsSecretsManagerBackend(client, {
    recoveryWindowDays: options.recoveryWindowDays,
    ...(options.kmsKeyId ? { kmsKeyId: options.kmsKeyId } : {}),
    ownsClient: options.client === undefined,
  });
}
