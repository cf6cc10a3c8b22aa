/** The file backend in the registry: its settings, abilities and how it is built. */
import { Buffer } from 'node:buffer';
import { Type } from '@sinclair/typebox';
import { ConfigError } from '../../config/config-error.js';
import { leaf, optionalPath, section } from '../../config/schema-leaf.js';
import { defineBackend } from '../backend-definition.js';
import { SecretError } from '../errors.js';

const settings = section({
  dir: leaf(Type.String({ minLength: 1, default: '.secrets-broker/store' }), {
    env: 'SECRETS_BROKER_FILE_DIR',
    description: 'Directory of the embedded encrypted file store.',
  }),
  key: Type.Optional(
    leaf(Type.String({ pattern: '^[A-Za-z0-9+/]{43}=$' }), {
      env: 'SECRETS_BROKER_FILE_KEY',
      description: 'AES-256 key of the file store, base64 (32 bytes); overrides the key file.',
      sensitive: true,
    }),
  ),
  keyFile: optionalPath({
    env: 'SECRETS_BROKER_FILE_KEY_FILE',
    description: 'Key file of the file store; generated (mode 0600) if absent.',
    defaultText: '`store.key` beside the store directory',
  }),
  versionsKept: leaf(Type.Integer({ minimum: 2, maximum: 100, default: 5 }), {
    env: 'SECRETS_BROKER_FILE_VERSIONS_KEPT',
    description: 'Versions of each secret the file store keeps, the current one included.',
  }),
  recoveryWindowDays: leaf(Type.Integer({ minimum: 1, maximum: 30, default: 7 }), {
    env: 'SECRETS_BROKER_FILE_RECOVERY_WINDOW_DAYS',
    description: 'Days a recoverable delete keeps a secret in the file store.',
  }),
});

export const fileBackend = defineBackend({
  name: 'file',
  settings,
  // No batch call: a batch read is bounded parallel reads of local files, which is fast anyway.
  capabilities: { recoverableDelete: true, restore: true, versionReads: true, checkAndSet: true, batchRead: false },
  resolveSettings(file, { resolvePath }) {
    const dir = resolvePath(file.dir);
    return { ...file, dir, keyFile: resolvePath(file.keyFile ?? `${dir}.key`) };
  },
  // The root filesystem is read-only: the store goes to the (pod-lifetime) socket volume.
  sidecarNeeds: (socketDir) => ({
    env: [{ name: 'SECRETS_BROKER_FILE_DIR', value: `${socketDir}/store` }],
    volumes: [],
  }),
  load: () => import('./index.js'),
  async create(module, file) {
    try {
      return await module.createFileBackend({
        dir: file.dir,
        keyFile: file.keyFile,
        versionsKept: file.versionsKept,
        recoveryWindowDays: file.recoveryWindowDays,
        ...(file.key ? { key: Buffer.from(file.key, 'base64') } : {}),
      });
    } catch (err) {
      throw asKeySettingError(err, file, module.isWrongStoreKey(err)) ?? err;
    }
  },
});

/** A key of the wrong size or one that does not open the store is a setting to change: exit 2. */
function asKeySettingError(err: unknown, file: { dir: string; key?: string; keyFile: string }, wrongKey: boolean) {
  const setting = file.key
    ? 'file.key (SECRETS_BROKER_FILE_KEY)'
    : `file.keyFile (SECRETS_BROKER_FILE_KEY_FILE, ${file.keyFile})`;
  if (wrongKey) {
    return new ConfigError(`${setting} does not open the store in ${file.dir}: give the key it was created with`, {
      cause: err,
    });
  }
  if (err instanceof SecretError && err.code === 'internal') {
    return new ConfigError(`${setting} is not a usable key: ${err.message}`, { cause: err });
  }
  return undefined;
}
