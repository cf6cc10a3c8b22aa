import { areaConfig } from './area-config.mjs';

/** The file store's record codec: encryption at rest, file names, record checks. */
export default areaConfig('record-codec', {
  mutate: ['agent/backends/file/record-codec.ts'],
  testFiles: ['test/unit/record-codec.test.ts'],
});
