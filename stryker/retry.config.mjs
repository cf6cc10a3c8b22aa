import { areaConfig } from './area-config.mjs';

/** Retries of transient backend failures: attempts, per-attempt timeouts, the overall deadline, aborts. */
export default areaConfig('retry', {
  mutate: ['agent/broker/retry.ts'],
  testFiles: ['test/unit/retry.test.ts'],
});
