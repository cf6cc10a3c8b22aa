/**
 * The broker's Vault token on a real server (OpenBao in CI), logged in with JWT auth: a token
 * revoked from outside, a renewal capped by the max TTL, and a seal and unseal. The contract double
 * covers the same paths with an exact count of requests (test/vault/vault-auth.test.ts,
 * vault-failures.test.ts); here the real server decides what it answers.
 */
import { randomBytes } from 'node:crypto';
import type { Test } from 'tap';
import { isTransient } from '../../agent/backends/errors.js';
import { buildTestApp } from '../helpers/broker-app.js';
import type { JwtLoginSetup } from './jwt-login-setup.js';
import { errorOf } from './outcome.js';

export interface SealControl {
  seal(): Promise<void>;
  unseal(): Promise<void>;
}

export async function sessionScenarios(t: Test, setup: JwtLoginSetup, seal?: SealControl): Promise<void> {
  await t.test('a token revoked from outside is replaced by one login, and the request succeeds', async (t) => {
    // Prepare
    const backend = setup.makeBackend();
    const id = `revoked-${randomBytes(4).toString('hex')}`;
    await backend.create({ id, value: 'v', encoding: 'utf8' });
    const before = await setup.liveLoginTokens();

    // Act
    await setup.revokeLoginTokens();
    const read = await backend.get(id, undefined);

    // Assess
    t.equal(before, 1, 'one login so far');
    t.equal(read.value, 'v');
    t.equal(await setup.liveLoginTokens(), 1, 'exactly one login since the revocation');
    await backend.close();
  });

  await t.test('a renewal capped by the max TTL is followed by a login at two thirds of what is left', async (t) => {
    // Prepare: a 60 s token that cannot outlive 60 s; the broker's clock runs ahead of Vault's
    await setup.writeRole('capped', { token_ttl: 60, token_explicit_max_ttl: 60 });
    let aheadMs = 0;
    const backend = setup.makeBackend({ role: 'capped', now: () => Date.now() + aheadMs });
    const id = `capped-${randomBytes(4).toString('hex')}`;
    await backend.create({ id, value: 'v', encoding: 'utf8' });
    // Vault counts whole seconds: past one, a renewal for 60 s can grant at most 59.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    aheadMs = 41_000;
    await backend.get(id, undefined); // renews: capped
    const afterRenewal = await setup.liveLoginTokens();

    // Act: two thirds of the at most 59 s left have passed for the broker
    aheadMs += 40_000;
    const read = await backend.get(id, undefined);

    // Assess
    t.equal(afterRenewal, 1, 'the first refresh was a renewal, not a login');
    t.equal(read.value, 'v');
    t.equal(await setup.liveLoginTokens(), 2, 'a fresh login while the old token still had time left');
    await backend.close();
  });

  if (!seal) return;
  await t.test('a sealed Vault is a 503 with Retry-After at once, and the broker recovers after unseal', async (t) => {
    // Prepare: a secret the broker has not read, so nothing is cached
    const backend = setup.makeBackend();
    const id = `sealed-${randomBytes(4).toString('hex')}`;
    await backend.create({ id, value: 'v', encoding: 'utf8' });
    const api = await buildTestApp(backend, { cacheTtlMs: 0, retry: { maxAttempts: 4 } });
    t.teardown(() => api.close());

    // Act
    await seal.seal();
    const sealedRead = await api.call({ method: 'GET', url: `/secrets/${id}` });
    const sealedReady = await api.call({ method: 'GET', url: '/readyz' });
    const direct = await errorOf(backend.get(id, undefined));
    await seal.unseal();
    const recovered = await api.call({ method: 'GET', url: `/secrets/${id}` });

    // Assess
    t.equal(sealedRead.statusCode, 503);
    t.equal(sealedRead.json().code, 'backend_unavailable');
    t.equal(sealedRead.headers['retry-after'], '3');
    t.equal(sealedReady.statusCode, 503, 'not ready while sealed');
    t.notOk(isTransient(direct), 'sealed is not retried');
    t.equal(recovered.statusCode, 200, 'served again after unseal, without a restart');
    t.equal(recovered.json().value, 'v');
  });
}
