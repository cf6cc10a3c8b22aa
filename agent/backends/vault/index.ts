/**
 * The HashiCorp Vault backend (KV version 2), built on node-vault. See vault-backend.ts for how
 * secrets map onto KV keys and session.ts for the token's life cycle.
 */
import { readFileSync } from 'node:fs';
import NodeVault from 'node-vault';
import type { SecretBackend } from '../contract.js';
import { KvStore } from './kv-store.js';
import { type VaultLoginSettings, VaultSession } from './session.js';
import { createVaultTransport } from './transport.js';
import { VaultBackend } from './vault-backend.js';
import { VaultHealth } from './vault-health.js';

export interface VaultBackendOptions extends VaultLoginSettings {
  /** Vault's address, e.g. `https://vault.example:8200`. */
  addr: string;
  /** Mount path of the KV version 2 engine, e.g. `secret`. */
  mount: string;
  /** Vault Enterprise namespace, sent as X-Vault-Namespace. */
  namespace?: string;
  /** PEM bundle that verifies Vault's TLS certificate. */
  caFile?: string;
  /** Most folder entries one list page may walk through. */
  listMaxKeys: number;
  /** Timeout of one HTTP request to Vault (the broker's retry layer may abort sooner). */
  requestTimeoutMs: number;
  /** Clock for token lifetimes and deletion times; `Date.now` by default. */
  now?: () => number;
}

/**
 * Builds the Vault backend from settings the config loader has validated. Nothing is contacted here: the first call (or `ready()`) logs in.
 *
 * @example
 * const backend = createVaultBackend({
 *   addr: 'https://vault.example:8200', mount: 'secret', auth: 'kubernetes', role: 'secrets-broker',
 *   jwtFile: '/var/run/secrets/vault/token', listMaxKeys: 10_000, requestTimeoutMs: 3000,
 * });
 * await backend.ready();
 */
export function createVaultBackend(options: VaultBackendOptions): SecretBackend {
  const now = options.now ?? Date.now;
  const transport = createVaultTransport({
    requestTimeoutMs: options.requestTimeoutMs,
    ...(options.caFile ? { ca: readFileSync(options.caFile) } : {}),
  });
  const client = NodeVault({
    apiVersion: 'v1',
    endpoint: options.addr,
    // Node's HTTP parser refuses the LIST verb in answers' framing; Vault accepts GET ?list=true too.
    noCustomHTTPVerbs: true,
    'request-promise': { defaults: () => transport.request },
  });
  // node-vault falls back to VAULT_TOKEN, VAULT_NAMESPACE and VAULT_PREFIX; only our config counts.
  Object.assign(client, { token: '', namespace: options.namespace ?? '', pathPrefix: '' });
  const session = new VaultSession(client, {
    auth: options.auth,
    jwtFile: options.jwtFile,
    now,
    ...pick(options, ['role', 'authMount', 'tokenFile', 'token']),
  });
  return new VaultBackend({
    kv: new KvStore(client, session, options.mount),
    session,
    health: new VaultHealth(client),
    listMaxKeys: options.listMaxKeys,
    now,
    closeTransport: () => transport.close(),
  });
}

function pick<T extends object, K extends keyof T>(source: T, keys: K[]): Partial<Pick<T, K>> {
  const picked: Partial<Pick<T, K>> = {};
  for (const key of keys) if (source[key] !== undefined) picked[key] = source[key];
  return picked;
}
