/**
 * The race proof on the file backend: three broker processes share the store and the lock directory.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import t from 'tap';
import { proveRaceOnBackend } from './race-harness.js';

t.test('3 brokers sharing a file store count every acknowledged conditional increment', async (t) => {
  // One key for all three: each would otherwise race to create the key file.
  const key = randomBytes(32).toString('base64');
  await proveRaceOnBackend(t, (dir) => ({
    SECRETS_BROKER_BACKEND: 'file',
    SECRETS_BROKER_FILE_DIR: path.join(dir, 'store'),
    SECRETS_BROKER_FILE_KEY: key,
  }));
});
