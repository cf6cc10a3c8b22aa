/**
 * A small tmpfs for tests of a full disk: a real file system that really runs out of space, with
 * no disk image and nothing left behind. Mounting needs root, which CI has.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Test } from 'tap';

const run = promisify(execFile);

/**
 * Mounts a tmpfs of `sizeBytes` on a fresh directory and unmounts it at the test's end. Without
 * root it fails the test in CI (`CI=true`) and elsewhere skips the whole file, saying why; it then
 * returns undefined.
 */
export async function smallTmpfsForTest(t: Test, sizeBytes: number): Promise<string | undefined> {
  if (process.getuid?.() !== 0) {
    const reason = 'mounting a tmpfs needs root (CI runs as root)';
    if (process.env.CI === 'true') throw new Error(`${reason}: the disk-full tests are required in CI`);
    t.comment(`SKIPPING DISK-FULL TESTS: ${reason}`);
    t.plan(0, reason);
    return undefined;
  }
  const mountPoint = await mkdtemp(path.join(os.tmpdir(), 'sb-tmpfs-'));
  await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0700`, 'tmpfs', mountPoint]);
  t.teardown(async () => {
    // Lazy: a broker still being killed may hold a file open; the mount goes once it lets go.
    await run('umount', ['-l', mountPoint]);
    await rm(mountPoint, { recursive: true, force: true });
  });
  return mountPoint;
}
