/**
 * What an operator sets up in a real Vault (or OpenBao) for the broker, done over the API with an
 * admin token: a fresh KV v2 mount, the policy of docs/backends/vault.md written for it, a JWT auth method that trusts
 * a test key pair, and a role bound to one service account's subject with that policy. The broker
 * then logs in as the pod would, with a signed token in a file. `cleanup()` removes all of it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SecretBackend } from '../../agent/backends/contract.js';
import { createVaultBackend, type VaultBackendOptions } from '../../agent/backends/vault/index.js';
import { createJwtSigner, serviceAccountClaims } from '../helpers/vault-double/index.js';
import { type Answer, vaultCall } from './kv-contract.js';
import { documentedPolicy } from './vault-fixture.js';

export interface VaultAdmin {
  addr: string;
  /** Allowed to mount engines and auth methods, write policies and revoke leases (a dev root token). */
  token: string;
  namespace?: string;
}

/** Token settings of the role, as `auth/jwt/role/<name>` takes them (durations in seconds). */
export interface RoleTokenSettings {
  token_ttl?: number;
  token_max_ttl?: number;
  token_explicit_max_ttl?: number;
}

export interface JwtLoginSetup {
  /** The KV v2 mount the broker works in. */
  mount: string;
  authMount: string;
  /** Adds (or replaces) a role with other token settings; the broker logs in with `role`. */
  writeRole(role: string, settings: RoleTokenSettings): Promise<void>;
  /** A backend that logs in with JWT auth as `role` (the main role by default). Closed at cleanup. */
  makeBackend(overrides?: Partial<VaultBackendOptions>): SecretBackend;
  /** Tokens issued by this auth method's logins that Vault still knows. */
  liveLoginTokens(): Promise<number>;
  /** Revokes every token issued by this auth method's logins, as an operator would in an incident. */
  revokeLoginTokens(): Promise<void>;
  cleanup(): Promise<void>;
}

export const JWT_ROLE = 'secrets-broker';
const SUBJECT = 'system:serviceaccount:prod:payments';
const AUDIENCE = 'vault';

export async function setupJwtLogin(admin: VaultAdmin, caFile?: string): Promise<JwtLoginSetup> {
  const name = `secrets-broker-test-${randomBytes(4).toString('hex')}`;
  const [mount, authMount] = [name, `jwt-${name}`];
  const dir = await mkdtemp(join(tmpdir(), 'vault-jwt-'));
  const backends: SecretBackend[] = [];
  const undo: Array<() => Promise<unknown>> = [() => rm(dir, { recursive: true, force: true })];
  const cleanup = async () => {
    for (const backend of backends) await backend.close();
    for (const step of undo.reverse()) await step();
  };
  const call = (method: string, path: string, body?: unknown) => expectOk(vaultCall(admin, method, path, body), path);
  try {
    await call('POST', `sys/mounts/${mount}`, { type: 'kv', options: { version: '2' } });
    undo.push(() => vaultCall(admin, 'DELETE', `sys/mounts/${mount}`));
    await untilMountServes(admin, mount);
    const policy = (await documentedPolicy()).replaceAll('"secret/', `"${mount}/`);
    await call('PUT', `sys/policies/acl/${name}`, { policy });
    undo.push(() => vaultCall(admin, 'DELETE', `sys/policies/acl/${name}`));
    await call('POST', `sys/auth/${authMount}`, { type: 'jwt' });
    undo.push(() => vaultCall(admin, 'DELETE', `sys/auth/${authMount}`));
    const signer = createJwtSigner();
    await call('POST', `auth/${authMount}/config`, { jwt_validation_pubkeys: [signer.publicKeyPem] });
    const jwtFile = join(dir, 'token');
    const issuedAt = Math.floor(Date.now() / 1000);
    const claims = serviceAccountClaims({
      namespace: 'prod',
      serviceAccount: 'payments',
      audience: AUDIENCE,
      issuedAt,
    });
    await writeFile(jwtFile, signer.sign(claims), { mode: 0o600 });
    const writeRole = async (role: string, settings: RoleTokenSettings) => {
      await call('POST', `auth/${authMount}/role/${role}`, {
        role_type: 'jwt',
        user_claim: 'sub',
        bound_subject: SUBJECT,
        bound_audiences: [AUDIENCE],
        token_policies: [name],
        ...settings,
      });
    };
    await writeRole(JWT_ROLE, { token_ttl: 3600, token_max_ttl: 86_400 });
    const makeBackend = (overrides: Partial<VaultBackendOptions> = {}) => {
      const backend = createVaultBackend({
        addr: admin.addr,
        mount,
        auth: 'jwt',
        role: JWT_ROLE,
        authMount,
        jwtFile,
        listMaxKeys: 10_000,
        requestTimeoutMs: 10_000,
        ...(admin.namespace ? { namespace: admin.namespace } : {}),
        ...(caFile ? { caFile } : {}),
        ...overrides,
      });
      backends.push(backend);
      return backend;
    };
    return {
      mount,
      authMount,
      writeRole,
      makeBackend,
      liveLoginTokens: () => liveLoginTokens(admin, authMount),
      revokeLoginTokens: async () => {
        await call('PUT', `sys/leases/revoke-prefix/auth/${authMount}/login`, {});
      },
      cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

async function liveLoginTokens(admin: VaultAdmin, authMount: string): Promise<number> {
  const listed = await expectOk(vaultCall(admin, 'GET', 'auth/token/accessors?list=true'), 'auth/token/accessors');
  const accessors = ((listed.body?.data as { keys?: string[] } | undefined)?.keys ?? []) as string[];
  let live = 0;
  for (const accessor of accessors) {
    const lookup = await vaultCall(admin, 'POST', 'auth/token/lookup-accessor', { accessor });
    const path = (lookup.body?.data as { path?: string } | undefined)?.path;
    if (lookup.status === 200 && path === `auth/${authMount}/login`) live++;
  }
  return live;
}

async function expectOk(answer: Promise<Answer>, what: string): Promise<Answer> {
  const result = await answer;
  if (result.status >= 300)
    throw new Error(`Vault setup call ${what} failed: ${result.status} ${JSON.stringify(result.body)}`);
  return result;
}

/** A new mount may answer 400/503 for a moment while Vault sets it up; wait for it, boundedly. */
async function untilMountServes(admin: VaultAdmin, mount: string): Promise<void> {
  for (let attempt = 0; attempt < 40; attempt++) {
    const probe = await vaultCall(admin, 'GET', `${mount}/config`);
    if (probe.status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`the KV mount ${mount} did not become ready`);
}
