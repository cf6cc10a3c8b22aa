/**
 * Builds the configured backend through its registry entry. Only the chosen backend's module is
 * imported, so a broker on the file backend never loads the AWS SDK or the Vault client (start-up
 * time and memory; test/unit/lean-serve.test.ts watches this).
 */
import type { ResolvedConfig } from '../config/loader.js';
import type { BackendDefinition, SharedBackendSettings } from './backend-definition.js';
import type { SecretBackend } from './contract.js';
import { backendNamed } from './registry.js';

export async function createBackend(config: ResolvedConfig): Promise<SecretBackend> {
  // Each entry's types tie its module to its settings; here any entry is built the same way.
  const definition = backendNamed(config.backend) as unknown as BackendDefinition<string, never, unknown, unknown>;
  const shared: SharedBackendSettings = { requestTimeoutMs: config.retry.attemptTimeoutMs };
  const settings = (config as unknown as Record<string, unknown>)[config.backend];
  return definition.create(await definition.load(), settings, shared);
}
