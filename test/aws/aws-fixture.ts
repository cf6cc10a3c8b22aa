/**
 * The AWS backend wired to moto through a fault proxy, for the tests in this folder. Each call
 * resets moto, so tests sharing one moto process start from an empty account.
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Test } from 'tap';
import { type AwsBackendOptions, createAwsBackend } from '../../agent/backends/aws-secrets-manager/index.js';
import type { SecretBackend } from '../../agent/backends/contract.js';
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js';
import { MOTO_CREDENTIALS, MOTO_REGION, type MotoServer, motoClient } from '../helpers/moto-server.js';

export interface AwsFixture {
  backend: SecretBackend;
  /** Sits between the SDK and moto: counts calls by operation and injects faults. */
  proxy: FaultProxy;
  /** A client straight to moto, for looking at what the backend did. */
  direct: SecretsManagerClient;
}

export interface FixtureOptions extends Partial<AwsBackendOptions> {
  /**
   * Let the backend build its own client (the production path, with its timeouts) instead of
   * passing one in; credentials then come from the environment, set here for this process only.
   */
  ownClient?: boolean;
}

export async function awsFixture(t: Test, moto: MotoServer, options: FixtureOptions = {}): Promise<AwsFixture> {
  await moto.reset();
  const proxy = await startFaultProxy(moto.endpoint);
  t.teardown(() => proxy.close());
  const direct = motoClient(moto.endpoint);
  t.teardown(() => direct.destroy());
  const { ownClient, ...backendOptions } = options;
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  if (ownClient) useEnvironmentCredentials(t);
  const client = ownClient ? undefined : motoClient(proxy.url, requestTimeoutMs);
  const backend = createAwsBackend({
    region: MOTO_REGION,
    recoveryWindowDays: 7,
    requestTimeoutMs,
    ...(client ? { client } : { endpoint: proxy.url }),
    ...backendOptions,
  });
  t.teardown(async () => {
    await backend.close();
    client?.destroy();
  });
  return { backend, proxy, direct };
}

/** Resolves to what `promise` rejected with; fails if it resolved. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection, got a result');
}

/** Dummy credentials in this process's environment for the rest of test `t`, as a pod would get them. */
export function useEnvironmentCredentials(t: Test): void {
  const saved = { id: process.env.AWS_ACCESS_KEY_ID, key: process.env.AWS_SECRET_ACCESS_KEY };
  process.env.AWS_ACCESS_KEY_ID = MOTO_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = MOTO_CREDENTIALS.secretAccessKey;
  t.teardown(() => {
    restore('AWS_ACCESS_KEY_ID', saved.id);
    restore('AWS_SECRET_ACCESS_KEY', saved.key);
  });
}

function restore(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}
