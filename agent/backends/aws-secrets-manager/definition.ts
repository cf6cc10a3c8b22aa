/** AWS Secrets Manager in the registry: its settings, abilities and how it is built. */
import { Type } from '@sinclair/typebox';
import { ConfigError } from '../../config/config-error.js';
import { leaf, section } from '../../config/schema-leaf.js';
import { defineBackend } from '../backend-definition.js';

const settings = section({
  region: Type.Optional(
    leaf(Type.String({ minLength: 1 }), {
      env: 'SECRETS_BROKER_AWS_REGION',
      fallbackEnv: ['AWS_REGION', 'AWS_DEFAULT_REGION'],
      description: 'AWS region (required for the aws backend: Fargate has no instance metadata).',
    }),
  ),
  endpoint: Type.Optional(
    leaf(Type.String({ pattern: '^https?://' }), {
      env: 'SECRETS_BROKER_AWS_ENDPOINT',
      description: 'Secrets Manager endpoint override (VPC endpoint, emulator).',
    }),
  ),
  recoveryWindowDays: leaf(Type.Integer({ minimum: 7, maximum: 30, default: 7 }), {
    env: 'SECRETS_BROKER_AWS_RECOVERY_WINDOW_DAYS',
    description: 'Recovery window of a recoverable delete, in days (7-30).',
  }),
  kmsKeyId: Type.Optional(
    leaf(Type.String({ minLength: 1 }), {
      env: 'SECRETS_BROKER_AWS_KMS_KEY_ID',
      description: 'KMS key for new secrets; the account default key when unset.',
    }),
  ),
});

export const awsBackend = defineBackend({
  name: 'aws',
  settings,
  // Secrets Manager has no check-and-set: the broker's lock and its version check under it are the guard.
  capabilities: { recoverableDelete: true, restore: true, versionReads: true, checkAndSet: true, batchRead: true },
  resolveSettings: (aws) => aws,
  checkSettings(aws) {
    if (!aws.region) {
      throw new ConfigError(
        'aws.region (SECRETS_BROKER_AWS_REGION, or AWS_REGION) is required for the aws backend: Fargate has no instance metadata to discover it',
      );
    }
  },
  load: () => import('./index.js'),
  create: (module, aws, shared) =>
    module.createAwsBackend({
      region: aws.region as string,
      recoveryWindowDays: aws.recoveryWindowDays,
      requestTimeoutMs: shared.requestTimeoutMs,
      ...(aws.endpoint ? { endpoint: aws.endpoint } : {}),
      ...(aws.kmsKeyId ? { kmsKeyId: aws.kmsKeyId } : {}),
    }),
});
