import { areaConfig } from './area-config.mjs';

/** Per-secret write locks and the lock files on the shared volume. */
export default areaConfig('locks', {
  mutate: ['agent/broker/secret-locks.ts', 'agent/broker/lock-*.ts'],
  testFiles: ['test/unit/secret-locks.test.ts', 'test/unit/lock-*.test.ts'],
});
