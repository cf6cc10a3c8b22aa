import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { createFileBackend } from '../../agent/backends/file/index.js';
import { runConformanceSuite } from './suite.js';

runConformanceSuite(t, 'file', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-file-conf-'));
  const backend = await createFileBackend({
    dir: path.join(dir, 'store'),
    keyFile: path.join(dir, 'store.key'),
    versionsKept: 5,
    recoveryWindowDays: 7,
  });
  return { backend, cleanup: () => rm(dir, { recursive: true, force: true }) };
});
