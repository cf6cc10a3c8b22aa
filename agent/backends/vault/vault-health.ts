/**
 * `sys/health`, the unauthenticated probe of Vault itself. It answers 200 when active, 429 on a
 * standby, 501 when not initialized and 503 when sealed, always with a JSON body that says so.
 */
import type NodeVault from 'node-vault';
import type { CallOptions } from '../contract.js';
import { SecretError } from '../errors.js';
import { SEALED_RETRY_AFTER_MS, sealedError, toSecretError } from './vault-errors.js';

interface HealthBody {
  initialized?: boolean;
  sealed?: boolean;
}

export class VaultHealth {
  readonly #client: NodeVault.client;

  constructor(client: NodeVault.client) {
    this.#client = client;
  }

  /** Resolves when Vault is initialized and unsealed (a standby is fine: it forwards requests). */
  async assertServing(options: CallOptions = {}): Promise<void> {
    let body: HealthBody | undefined;
    try {
      body = (await this.#client.health({
        standbyok: true,
        requestOptions: { acceptAnyStatus: true, ...(options.signal ? { signal: options.signal } : {}) },
      })) as HealthBody | undefined;
    } catch (err) {
      throw toSecretError(err, { action: 'health check' });
    }
    if (body?.initialized !== true) {
      throw new SecretError('backend_unavailable', 'vault is not initialized', { retryAfterMs: SEALED_RETRY_AFTER_MS });
    }
    if (body.sealed !== false) throw sealedError('vault health check');
  }
}
