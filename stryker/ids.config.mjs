import { areaConfig } from './area-config.mjs';

/** Secret ids and the value, description and tag limits. */
export default areaConfig('ids', {
  mutate: ['agent/broker/secret-id.ts', 'agent/secret-limits.ts'],
  testFiles: ['test/unit/secret-id.test.ts'],
});
