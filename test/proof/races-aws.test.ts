/**
 * The race proof on the AWS backend: three broker processes share the lock directory and one
 * Secrets Manager account (moto's server, through the real SDK).
 */
import path from 'node:path';
import t from 'tap';
import { MOTO_CREDENTIALS, MOTO_REGION, motoForTest } from '../helpers/moto-server.js';
import { proveRaceOnBackend } from './race-harness.js';

const moto = await motoForTest(t);

if (moto) {
  t.test('3 brokers on one AWS account count every acknowledged conditional increment', async (t) => {
    await moto.reset();
    await proveRaceOnBackend(t, (dir) => ({
      SECRETS_BROKER_BACKEND: 'aws',
      SECRETS_BROKER_AWS_ENDPOINT: moto.endpoint,
      AWS_REGION: MOTO_REGION,
      AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
      // Nothing from the machine running the test may leak into the brokers' credentials.
      AWS_CONFIG_FILE: path.join(dir, 'no-config'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'no-credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
    }));
  });
}
