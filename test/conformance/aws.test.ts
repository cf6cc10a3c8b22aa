/**
 * The shared conformance suite over the AWS Secrets Manager backend, against a real moto_server
 * driven through the real SDK over HTTP.
 */
import t from 'tap';
import { createAwsBackend } from '../../agent/backends/aws-secrets-manager/index.js';
import { MOTO_REGION, motoClient, motoForTest } from '../helpers/moto-server.js';
import { runConformanceSuite } from './suite.js';

const moto = await motoForTest(t);

if (moto) {
  runConformanceSuite(t, 'aws', async () => {
    const client = motoClient(moto.endpoint);
    const backend = createAwsBackend({ client, region: MOTO_REGION, recoveryWindowDays: 7, requestTimeoutMs: 10_000 });
    return {
      backend,
      cleanup: async () => {
        await backend.close();
        client.destroy();
      },
    };
  });
}
