/**
 * Builds the configured backend. Each backend module is imported only when chosen, so a broker on
 * the file backend never loads the AWS SDK or the Vault client (start-up time and memory).
 */
import { Buffer } from 'node:buffer';
import type { ResolvedConfig } from '../config/loader.js';
import type { SecretBackend } from './contract.js';

export async function createBackend(config: ResolvedConfig): Promise<SecretBackend> {
  switch (config.backend) {
    case 'file': {
      const { createFileBackend } = await import('./file/index.js');
      return createFileBackend({
        dir: config.file.dir,
        keyFile: config.file.keyFile,
        versionsKept: config.file.versionsKept,
        recoveryWindowDays: config.file.recoveryWindowDays,
        ...(config.file.key ? { key: Buffer.from(config.file.key, 'base64') } : {}),
      });
    }
    case 'aws': {
      const { createAwsBackend } = await import('./aws-secrets-manager/index.js');
      return createAwsBackend({
        region: config.aws.region as string,
        recoveryWindowDays: config.aws.recoveryWindowDays,
        requestTimeoutMs: config.retry.attemptTimeoutMs,
        ...(config.aws.endpoint ? { endpoint: config.aws.endpoint } : {}),
        ...(config.aws.kmsKeyId ? { kmsKeyId: config.aws.kmsKeyId } : {}),
      });
    }
    case 'vault': {
      const { createVaultBackend } = await import('./vault/index.js');
      const { vault } = config;
      return createVaultBackend({
        addr: vault.addr as string,
        mount: vault.mount,
        auth: vault.auth,
        jwtFile: vault.jwtFile,
        listMaxKeys: vault.listMaxKeys,
        requestTimeoutMs: config.retry.attemptTimeoutMs,
        ...(vault.role ? { role: vault.role } : {}),
        ...(vault.authMount ? { authMount: vault.authMount } : {}),
        ...(vault.tokenFile ? { tokenFile: vault.tokenFile } : {}),
        ...(vault.token ? { token: vault.token } : {}),
        ...(vault.namespace ? { namespace: vault.namespace } : {}),
        ...(vault.caFile ? { caFile: vault.caFile } : {}),
      });
    }
  }
}
