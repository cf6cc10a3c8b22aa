import { areaConfig } from './area-config.mjs';

/** The read-through cache: entries, freshness, stale answers, sealing of cached records. */
export default areaConfig('cache', {
  mutate: ['agent/broker/read-through-cache.ts', 'agent/broker/cache-entries.ts', 'agent/broker/record-sealer.ts'],
  testFiles: ['test/unit/read-through-cache*.test.ts'],
});
