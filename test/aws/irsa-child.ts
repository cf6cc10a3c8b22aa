/**
 * Runs in a fresh process whose environment holds only what IRSA gives a pod (AWS_ROLE_ARN,
 * AWS_WEB_IDENTITY_TOKEN_FILE, AWS_REGION) plus the emulator endpoints. It builds the backend the way
 * the broker does, with no client and no credentials passed in, and prints what it could do.
 * Usage: irsa-child.ts <secrets manager endpoint>
 */
import { createAwsBackend } from '../../agent/backends/aws-secrets-manager/index.js';

const backend = createAwsBackend({
  region: process.env.AWS_REGION ?? '',
  endpoint: process.argv[2] as string,
  recoveryWindowDays: 7,
  requestTimeoutMs: 5000,
});
try {
  await backend.ready();
  await backend.create({ id: 'irsa/check', value: 'written-as-the-pod', encoding: 'utf8' });
  const read = await backend.get('irsa/check', undefined);
  process.stdout.write(JSON.stringify({ value: read.value }));
} catch (err) {
  // SecretError messages are value-free by construction, so they are safe to print.
  const { code, message } = err as { code?: string; message?: string };
  process.stdout.write(JSON.stringify({ error: code ?? 'unexpected', message }));
} finally {
  await backend.close();
}
