/** HashiCorp Vault (KV v2) in the registry: its settings, abilities and how it is built. */
import { Type } from '@sinclair/typebox';
import { ConfigError } from '../../config/config-error.js';
import { leaf, optionalPath, section } from '../../config/schema-leaf.js';
import { defineBackend } from '../backend-definition.js';

/** Where the sidecar mounts a token meant for Vault alone (audience `vault`), rotated by the kubelet. */
export const VAULT_TOKEN_VOLUME = 'secrets-broker-vault-token';
export const VAULT_TOKEN_DIR = '/var/run/secrets/vault';

const settings = section({
  addr: Type.Optional(
    leaf(Type.String({ pattern: '^https?://' }), {
      env: 'SECRETS_BROKER_VAULT_ADDR',
      fallbackEnv: ['VAULT_ADDR'],
      description: 'Vault address (required for the vault backend).',
    }),
  ),
  mount: leaf(Type.String({ minLength: 1, default: 'secret' }), {
    env: 'SECRETS_BROKER_VAULT_MOUNT',
    description: 'Mount path of the KV v2 engine.',
  }),
  auth: leaf(
    Type.Union([Type.Literal('kubernetes'), Type.Literal('jwt'), Type.Literal('token')], { default: 'kubernetes' }),
    { env: 'SECRETS_BROKER_VAULT_AUTH', description: 'How the broker logs in to Vault.' },
  ),
  role: Type.Optional(
    leaf(Type.String({ minLength: 1 }), {
      env: 'SECRETS_BROKER_VAULT_ROLE',
      description: 'Role to log in as (kubernetes and jwt auth).',
    }),
  ),
  authMount: Type.Optional(
    leaf(Type.String({ minLength: 1 }), {
      env: 'SECRETS_BROKER_VAULT_AUTH_MOUNT',
      description: 'Path of the auth method’s mount.',
      defaultText: 'the auth method’s name',
    }),
  ),
  jwtFile: leaf(Type.String({ minLength: 1, default: '/var/run/secrets/kubernetes.io/serviceaccount/token' }), {
    env: 'SECRETS_BROKER_VAULT_JWT_FILE',
    description: 'Service-account token to log in with; re-read at every login since it rotates.',
  }),
  tokenFile: optionalPath({
    env: 'SECRETS_BROKER_VAULT_TOKEN_FILE',
    description: 'Vault token file for `token` auth (falls back to VAULT_TOKEN).',
  }),
  namespace: Type.Optional(
    leaf(Type.String({ minLength: 1 }), {
      env: 'SECRETS_BROKER_VAULT_NAMESPACE',
      fallbackEnv: ['VAULT_NAMESPACE'],
      description: 'Vault Enterprise namespace.',
    }),
  ),
  caFile: optionalPath({
    env: 'SECRETS_BROKER_VAULT_CA_FILE',
    fallbackEnv: ['VAULT_CACERT'],
    description: 'PEM bundle that verifies Vault’s TLS certificate.',
  }),
  listMaxKeys: leaf(Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10_000 }), {
    env: 'SECRETS_BROKER_VAULT_LIST_MAX_KEYS',
    description: 'Most keys a list walks through Vault’s folders before it stops.',
  }),
});

export const vaultBackend = defineBackend({
  name: 'vault',
  settings,
  // KV v2 deletes are soft (undelete restores them); writes carry `cas`. No batch read in the API.
  capabilities: { recoverableDelete: true, restore: true, versionReads: true, checkAndSet: true, batchRead: false },
  resolveSettings(vault, { resolvePath, env }) {
    return {
      ...vault,
      ...(vault.tokenFile ? { tokenFile: resolvePath(vault.tokenFile) } : {}),
      ...(vault.caFile ? { caFile: resolvePath(vault.caFile) } : {}),
      // VAULT_TOKEN is Vault's own variable, not a broker setting: taken only without a token file.
      ...(env.VAULT_TOKEN && !vault.tokenFile ? { token: env.VAULT_TOKEN } : {}),
    } as typeof vault & { token?: string };
  },
  checkSettings(vault) {
    if (!vault.addr) {
      throw new ConfigError('vault.addr (SECRETS_BROKER_VAULT_ADDR, or VAULT_ADDR) is required for the vault backend');
    }
    if (vault.auth !== 'token' && !vault.role) {
      throw new ConfigError(`vault.role (SECRETS_BROKER_VAULT_ROLE) is required for vault.auth '${vault.auth}'`);
    }
    if (vault.auth === 'token' && !vault.tokenFile && !vault.token) {
      throw new ConfigError(
        "vault.auth 'token' needs vault.tokenFile (SECRETS_BROKER_VAULT_TOKEN_FILE) or the VAULT_TOKEN environment variable",
      );
    }
  },
  sidecarNeeds: () => ({
    env: [{ name: 'SECRETS_BROKER_VAULT_JWT_FILE', value: `${VAULT_TOKEN_DIR}/token` }],
    volumes: [
      {
        name: VAULT_TOKEN_VOLUME,
        mountPath: VAULT_TOKEN_DIR,
        source: {
          projected: {
            sources: [{ serviceAccountToken: { audience: 'vault', expirationSeconds: 3600, path: 'token' } }],
          },
        },
      },
    ],
  }),
  load: () => import('./index.js'),
  create(module, vault, shared) {
    try {
      return module.createVaultBackend({
        addr: vault.addr as string,
        mount: vault.mount,
        auth: vault.auth,
        jwtFile: vault.jwtFile,
        listMaxKeys: vault.listMaxKeys,
        requestTimeoutMs: shared.requestTimeoutMs,
        ...pickDefined(vault, ['role', 'authMount', 'tokenFile', 'token', 'namespace', 'caFile']),
      });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (vault.caFile && code !== undefined && (err as NodeJS.ErrnoException).path === vault.caFile) {
        throw new ConfigError(`vault.caFile (SECRETS_BROKER_VAULT_CA_FILE, ${vault.caFile}) cannot be read (${code})`, {
          cause: err,
        });
      }
      throw err;
    }
  },
});

function pickDefined<T extends object, K extends keyof T>(source: T, keys: K[]): Partial<Pick<T, K>> {
  const picked: Partial<Pick<T, K>> = {};
  for (const key of keys) if (source[key] !== undefined) picked[key] = source[key];
  return picked;
}
