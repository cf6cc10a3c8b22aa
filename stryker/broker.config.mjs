import { areaConfig } from './area-config.mjs';

/** The broker: preconditions, deletion and restore, the calls it hands each backend, close. */
export default areaConfig('broker', {
  mutate: ['agent/broker/secret-broker.ts'],
  testFiles: ['test/unit/secret-broker*.test.ts'],
});
