import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { ownProcessIdentity, type ProcessIdentity } from '../../agent/process-identity.js';
import { openTestStore } from '../fixtures/file/test-store.js';

const linuxOnly = process.platform === 'linux' ? false : 'writers are identified through /proc';

/** The mark a writer puts in its temp file names. */
function markOf(writer: { pid: number; startTime: string }): string {
  const self = ownProcessIdentity() as ProcessIdentity;
  return `${self.boot.replaceAll('-', '').slice(0, 12)}-${self.pidNamespace.replace(/\D/g, '')}-${writer.pid}-${writer.startTime}`;
}

/** A process of this host that ran and was killed, with the start time it had. */
async function killedWriter(): Promise<{ pid: number; startTime: string }> {
  const child = spawn(process.execPath, ['-e', 'console.log("up"); setInterval(() => {}, 60000)'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await once(child.stdout as NodeJS.ReadableStream, 'data');
  const stat = await readFile(`/proc/${child.pid}/stat`, 'utf8');
  const startTime = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] as string;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
  return { pid: child.pid as number, startTime };
}

t.test(
  'start-up removes at once the temp files a killed writer of this host left, and keeps a live writer’s',
  { skip: linuxOnly },
  async (t) => {
    // Prepare: two fresh temp files beside a record, one from a killed writer, one from this process.
    const { dir, reopen } = await openTestStore(t, { now: () => new Date() });
    const self = ownProcessIdentity() as ProcessIdentity;
    const record = `${'a'.repeat(64)}.rec`;
    const dead = `.${record}.${markOf(await killedWriter())}.0123456789ab.tmp`;
    const live = `.${record}.${markOf(self)}.ba9876543210.tmp`;
    await writeFile(join(dir, dead), 'ciphertext');
    await writeFile(join(dir, live), 'ciphertext');

    // Act
    await reopen();

    // Assess
    const left = await readdir(dir);
    t.notOk(left.includes(dead), 'the killed writer’s temp file is gone');
    t.ok(left.includes(live), 'a live writer’s temp file stays');
  },
);
