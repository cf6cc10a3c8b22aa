/**
 * Options of the AWS backend and the SecretsManagerClient built from them when none is passed in.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

export interface AwsBackendOptions {
  /** A ready client (tests pass one); when given, `endpoint` and the timeouts below are not used. */
  client?: SecretsManagerClient;
  /** Required: Fargate has no instance metadata to discover it from. */
  region: string;
  /** Endpoint override: a VPC endpoint or an emulator such as moto. */
  endpoint?: string;
  /** Days a recoverable delete keeps the secret (AWS accepts 7-30). */
  recoveryWindowDays: number;
  /** KMS key for new secrets; the account's `aws/secretsmanager` key when unset. */
  kmsKeyId?: string;
  /** Longest time one HTTP request may take, connection included; it really fails the call. */
  requestTimeoutMs: number;
  /** Longest time to establish the TCP/TLS connection; defaults to `requestTimeoutMs`. */
  connectionTimeoutMs?: number;
}

/**
 * Builds the client the backend uses when none is passed in.
 *
 * - `maxAttempts: 1`: the broker's retry layer is the only one, so attempts never multiply.
 * - `throwOnRequestTimeout: true`: without it the SDK only logs a warning when `requestTimeout` passes.
 * - Credentials come from the SDK's default chain. On EKS Fargate that is IRSA: `AWS_ROLE_ARN` plus
 *   `AWS_WEB_IDENTITY_TOKEN_FILE`, exchanged at STS (whose client inherits this request handler, and
 *   so these timeouts; `AWS_ENDPOINT_URL_STS` points it elsewhere).
 *
 * The handler is given as options rather than as a `NodeHttpHandler` instance, so the backend needs
 * no direct dependency on the SDK's HTTP handler package.
 */
export function buildSecretsManagerClient(options: AwsBackendOptions): SecretsManagerClient {
  return new SecretsManagerClient({
    region: options.region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    maxAttempts: 1,
    requestHandler: {
      connectionTimeout: options.connectionTimeoutMs ?? options.requestTimeoutMs,
      requestTimeout: options.requestTimeoutMs,
      throwOnRequestTimeout: true,
    },
  });
}
