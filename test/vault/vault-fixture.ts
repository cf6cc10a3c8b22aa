/**
 * A Vault double with the documented policy and a Kubernetes role, a service-account token file,
 * and a Vault backend logged in through them; everything is closed and removed at teardown.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import type { SecretBackend } from '../../agent/backends/contract.js';
import { createVaultBackend, type VaultBackendOptions } from '../../agent/backends/vault/index.js';
import {
  type KubernetesRole,
  serviceAccountClaims,
  startVaultDouble,
  type VaultDouble,
} from '../helpers/vault-double/index.js';

export const ROLE = 'secrets-broker';
export const AUDIENCE = 'vault';
export const NAMESPACE = 'prod';
export const SERVICE_ACCOUNT = 'payments';

export interface VaultFixture {
  double: VaultDouble;
  backend: SecretBackend;
  /** The service-account token file the backend logs in with. */
  jwtFile: string;
  dir: string;
  /** Writes a freshly signed service-account token to the token file (as the kubelet rotates it). */
  rotateJwt(overrides?: { audience?: string; serviceAccount?: string; lifetimeSeconds?: number }): Promise<string>;
  /** Another backend over the same double and files (closed at teardown). */
  makeBackend(overrides?: Partial<VaultBackendOptions>): SecretBackend;
}

export interface FixtureOptions {
  role?: Partial<KubernetesRole>;
  backend?: Partial<VaultBackendOptions>;
}

/** The first `hcl` block of docs/backends/vault.md: the policy the documentation tells operators to write. */
export async function documentedPolicy(): Promise<string> {
  const doc = await readFile(new URL('../../docs/backends/vault.md', import.meta.url), 'utf8');
  const block = /```hcl\n([\s\S]*?)```/.exec(doc);
  if (!block?.[1]) throw new Error('docs/backends/vault.md has no hcl policy block');
  return block[1];
}

export interface VaultSetup extends Omit<VaultFixture, 'backend'> {
  /** Closes the backends made, the double, and removes the temp directory. */
  cleanup(): Promise<void>;
}

/** The double, role, policy and token file, without tap: for the conformance suite's `make`. */
export async function createVaultSetup(options: FixtureOptions = {}): Promise<VaultSetup> {
  const double = await startVaultDouble();
  const dir = await mkdtemp(join(tmpdir(), 'vault-backend-'));
  const backends: SecretBackend[] = [];
  const cleanup = async () => {
    for (const backend of backends) await backend.close();
    await double.close();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    double.setPolicy(ROLE, await documentedPolicy());
  } catch (err) {
    await cleanup();
    throw err;
  }
  double.auth.writeRole('kubernetes', ROLE, {
    bound_service_account_names: [SERVICE_ACCOUNT],
    bound_service_account_namespaces: [NAMESPACE],
    audience: AUDIENCE,
    token_ttl: 3600,
    token_max_ttl: 86_400,
    token_policies: [ROLE],
    ...options.role,
  });
  const jwtFile = join(dir, 'token');
  const rotateJwt: VaultFixture['rotateJwt'] = async (overrides = {}) => {
    const jwt = double.signer.sign(
      serviceAccountClaims({
        namespace: NAMESPACE,
        serviceAccount: overrides.serviceAccount ?? SERVICE_ACCOUNT,
        audience: overrides.audience ?? AUDIENCE,
        issuedAt: Math.floor(double.now() / 1000),
        ...(overrides.lifetimeSeconds === undefined ? {} : { lifetimeSeconds: overrides.lifetimeSeconds }),
      }),
    );
    await writeFile(jwtFile, `${jwt}\n`, { mode: 0o600 });
    return jwt;
  };
  await rotateJwt();
  const makeBackend = (overrides: Partial<VaultBackendOptions> = {}) => {
    const backend = createVaultBackend({
      addr: double.addr,
      mount: 'secret',
      auth: 'kubernetes',
      role: ROLE,
      jwtFile,
      listMaxKeys: 10_000,
      requestTimeoutMs: 5000,
      now: () => double.now(),
      ...options.backend,
      ...overrides,
    });
    backends.push(backend);
    return backend;
  };
  return { double, jwtFile, dir, rotateJwt, makeBackend, cleanup };
}

/** {@link createVaultSetup} with one backend, cleaned up at the test's teardown. */
export async function vaultFixture(t: Test, options: FixtureOptions = {}): Promise<VaultFixture> {
  const setup = await createVaultSetup(options);
  t.teardown(() => setup.cleanup());
  const { cleanup: _cleanup, ...rest } = setup;
  return { ...rest, backend: setup.makeBackend() };
}
