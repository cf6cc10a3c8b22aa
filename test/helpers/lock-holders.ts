/**
 * Other holders of a lock, as the lock tests need them: processes of this host alive or killed,
 * liveness sockets that accept or that nothing listens on any more, and the records they leave.
 * Whatever is started here is stopped when the test that started it ends.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import type { Test } from 'tap';
import { type HolderRecord, ownHolderRecord } from '../../agent/broker/lock-holder.js';

export const linuxOnly = process.platform === 'linux' ? false : 'holder records identify processes through /proc';

/** Another process on this host, with its start time from /proc; killed when the test ends. */
export async function startOtherProcess(t: Test): Promise<{ child: ChildProcess; record: HolderRecord }> {
  const child = spawn(process.execPath, ['-e', 'process.stdout.write("up\\n"); setInterval(() => {}, 60_000)'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => void child.kill('SIGKILL'));
  await once(child.stdout as NodeJS.ReadableStream, 'data');
  const stat = await readFile(`/proc/${child.pid}/stat`, 'utf8');
  const startTime = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] as string;
  const { host, boot } = ownHolderRecord() as HolderRecord;
  return { child, record: { host, boot, pid: child.pid as number, startTime } };
}

/** The record of a process of this host that was killed: its pid runs no more. */
export async function deadHolder(t: Test): Promise<HolderRecord> {
  const { child, record } = await startOtherProcess(t);
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
  return record;
}

/** A record as a holder of this kernel in another pid namespace (a restarted container) leaves it. */
export function otherContainer(self: HolderRecord, socket?: string): HolderRecord {
  return { ...self, host: `${self.boot}/pid:[1]/other-container`, pid: 1, socket };
}

/** A Unix socket at `socketPath` whose process was killed: nothing accepts on it any more. */
export async function leaveDeadSocket(t: Test, socketPath: string): Promise<void> {
  const child = spawn(
    process.execPath,
    ['-e', `require('node:net').createServer().listen(${JSON.stringify(socketPath)}, () => console.log('up'))`],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.teardown(() => void child.kill('SIGKILL'));
  await once(child.stdout as NodeJS.ReadableStream, 'data');
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

/** A socket at `socketPath` that accepts, as a live holder's does. */
export async function listenAt(t: Test, socketPath: string): Promise<void> {
  const server = net.createServer((c) => c.destroy()).listen(socketPath);
  await once(server, 'listening');
  t.teardown(() => new Promise((resolve) => server.close(resolve)));
}
