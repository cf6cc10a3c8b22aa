/**
 * The Vault scenarios for a real Vault (OpenBao in CI): a fresh KV v2 mount, the policy of docs/backends/vault.md
 * written for it, and a JWT auth method and role through which the broker logs in with only that
 * policy (see jwt-login-setup.ts). Then the KV contract checks, Vault-specific backend scenarios,
 * the token's life cycle and the shared conformance suite run against it; teardown removes it all.
 */
import { randomBytes } from 'node:crypto';
import type { Test } from 'tap';
import type { SecretBackend } from '../../agent/backends/contract.js';
import { runConformanceSuite } from '../conformance/suite.js';
import { setupJwtLogin } from './jwt-login-setup.js';
import { kvContractChecks, type VaultTarget, vaultCall } from './kv-contract.js';
import { codeOf } from './outcome.js';
import { sessionScenarios } from './real-vault-sessions.js';

export interface RealVaultTarget {
  addr: string;
  /** Allowed to mount engines and auth methods, write policies and revoke leases (a dev server's root token will do). */
  setupToken: string;
  namespace?: string;
  /** PEM bundle for Vault's TLS certificate, for the backend (raw calls use NODE_EXTRA_CA_CERTS). */
  caFile?: string;
  /** Seals and unseals the server, when the test controls it (an OpenBao dev server). */
  seal?: { seal(): Promise<void>; unseal(): Promise<void> };
}

export async function runRealVaultSuite(t: Test, target: RealVaultTarget): Promise<void> {
  const admin = {
    addr: target.addr,
    token: target.setupToken,
    ...(target.namespace ? { namespace: target.namespace } : {}),
  };
  const health = await vaultCall(admin, 'GET', 'sys/health');
  if (health.status !== 200 && health.status !== 429) {
    t.fail(`Vault at ${target.addr} is not serving (sys/health answered ${health.status})`);
    return;
  }
  const setup = await setupJwtLogin(admin, target.caFile);
  t.teardown(() => setup.cleanup());
  const kvTarget: VaultTarget = { ...admin, mount: setup.mount };

  await t.test('KV v2 answers as the double does', (t) => kvContractChecks(t, kvTarget));
  await t.test('the broker works with only the documented policy, logged in with JWT auth', (t) =>
    backendScenarios(t, setup.makeBackend(), kvTarget),
  );
  await t.test('the token’s life cycle on a real server', (t) => sessionScenarios(t, setup, target.seal));
  runConformanceSuite(t, 'vault (real)', async () => ({ backend: setup.makeBackend(), cleanup: async () => {} }));
}

async function backendScenarios(t: Test, backend: SecretBackend, kv: VaultTarget): Promise<void> {
  t.teardown(() => backend.close());
  const id = `scenario-${randomBytes(4).toString('hex')}/secret`;
  await backend.ready();
  await backend.create({ id, value: 'v1', encoding: 'utf8', description: 'd', tags: { team: 'a' } });
  t.match(await backend.describe(id), { version: '1', description: 'd', tags: { team: 'a' } });

  // A writer outside the broker moves the secret on: the broker's write based on version 1 is refused.
  await vaultCall(kv, 'POST', `${kv.mount}/data/${id}`, { data: { value: 'outside', encoding: 'utf8' } });
  t.equal(await codeOf(backend.put(id, { value: 'lost', encoding: 'utf8', ifVersion: '1' })), 'precondition_failed');
  t.equal((await backend.get(id, undefined)).value, 'outside');

  await backend.delete(id, { force: false });
  t.equal(await codeOf(backend.get(id, undefined)), 'not_found');
  t.equal(await codeOf(backend.create({ id, value: 'again', encoding: 'utf8' })), 'pending_deletion');
  t.equal((await backend.listPage({ pageSize: 10, prefix: id })).items.length, 0);

  await backend.delete(id, { force: true });
  t.equal((await backend.create({ id, value: 'fresh', encoding: 'utf8' })).version, '1');

  await vaultCall(kv, 'POST', `${kv.mount}/destroy/${id}`, { versions: [1] });
  t.equal((await backend.create({ id, value: 'after destroy', encoding: 'utf8' })).version, '2');
  await backend.delete(id, { force: true });
}
