/**
 * The Vault scenarios for a real Vault (or, to keep this file honest in CI, the double): a fresh
 * KV v2 mount, the documented policy written for it, and a token with only that policy for the
 * broker. Then the KV contract checks, the shared conformance suite and a few Vault-specific
 * backend scenarios run against it; teardown removes the mount, the policy and the token.
 */
import { randomBytes } from 'node:crypto';
import type { Test } from 'tap';
import type { SecretBackend } from '../../agent/backends/contract.js';
import { createVaultBackend } from '../../agent/backends/vault/index.js';
import { runConformanceSuite } from '../conformance/suite.js';
import { kvContractChecks, type VaultTarget, vaultCall } from './kv-contract.js';
import { codeOf } from './outcome.js';
import { documentedPolicy } from './vault-fixture.js';

export interface RealVaultTarget {
  addr: string;
  /** Allowed to mount engines, write policies and create tokens (a dev server's root token will do). */
  setupToken: string;
  namespace?: string;
  /** PEM bundle for Vault's TLS certificate, for the backend (raw calls use NODE_EXTRA_CA_CERTS). */
  caFile?: string;
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
  const name = `secrets-broker-test-${randomBytes(4).toString('hex')}`;
  const mount = name;
  await expectStatus(t, vaultCall(admin, 'POST', `sys/mounts/${mount}`, { type: 'kv', options: { version: '2' } }));
  t.teardown(() => vaultCall(admin, 'DELETE', `sys/mounts/${mount}`));
  await untilMountServes(admin, mount);
  const policy = (await documentedPolicy()).replaceAll('"secret/', `"${mount}/`);
  await expectStatus(t, vaultCall(admin, 'PUT', `sys/policies/acl/${name}`, { policy }));
  t.teardown(() => vaultCall(admin, 'DELETE', `sys/policies/acl/${name}`));
  const created = await vaultCall(admin, 'POST', 'auth/token/create', { policies: [name], ttl: '1h', renewable: true });
  const brokerToken = (created.body?.auth as { client_token?: string } | undefined)?.client_token;
  if (!brokerToken) {
    t.fail(`could not create the broker's token (${created.status})`);
    return;
  }
  t.teardown(() => vaultCall(admin, 'POST', 'auth/token/revoke-self', {}, brokerToken));

  const kvTarget: VaultTarget = { ...admin, mount };
  const makeBackend = () =>
    createVaultBackend({
      addr: target.addr,
      mount,
      auth: 'token',
      token: brokerToken,
      jwtFile: '/nonexistent',
      listMaxKeys: 10_000,
      requestTimeoutMs: 10_000,
      ...(target.namespace ? { namespace: target.namespace } : {}),
      ...(target.caFile ? { caFile: target.caFile } : {}),
    });

  await t.test('KV v2 answers as the double does', (t) => kvContractChecks(t, kvTarget));
  await t.test('the broker works with only the documented policy', (t) => backendScenarios(t, makeBackend(), kvTarget));
  runConformanceSuite(t, 'vault (real)', async () => {
    const backend = makeBackend();
    return { backend, cleanup: () => backend.close() };
  });
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

async function expectStatus(t: Test, answer: Promise<{ status: number; body: unknown }>): Promise<void> {
  const { status, body } = await answer;
  if (status >= 300) throw new Error(`Vault setup call failed: ${status} ${JSON.stringify(body)}`);
  t.pass(`setup call answered ${status}`);
}

/** A new mount may answer 400/503 for a moment while Vault sets it up; wait for it, boundedly. */
async function untilMountServes(
  admin: { addr: string; token: string; namespace?: string },
  mount: string,
): Promise<void> {
  for (let attempt = 0; attempt < 40; attempt++) {
    const probe = await vaultCall(admin, 'GET', `${mount}/config`);
    if (probe.status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`the KV mount ${mount} did not become ready`);
}
