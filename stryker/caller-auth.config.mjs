import { areaConfig } from './area-config.mjs';

/** The caller token: the bearer check and the token file written at start. */
export default areaConfig('caller-auth', {
  mutate: ['agent/http/caller-auth.ts'],
  testFiles: ['test/unit/caller-auth.test.ts'],
});
