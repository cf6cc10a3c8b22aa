/**
 * This process as the kernel knows it, for marks it leaves on shared volumes (lock holder records,
 * the file store's temp files): boot id, pid namespace, pid and start time. Another process of the
 * same boot and pid namespace can then tell from /proc whether the one that left a mark still runs.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';

export interface ProcessIdentity {
  /** The kernel's boot id: equal on one machine until it reboots. */
  boot: string;
  /** The pid namespace (`pid:[inode]`): pids mean the same processes only within one. */
  pidNamespace: string;
  hostname: string;
  pid: number;
  /** Clock ticks from boot to the process's start: a reused pid has another one. */
  startTime: string;
}

/** State and start time of a process from the text of its /proc/<pid>/stat. */
function parseProcStat(text: string): { state: string; startTime: string } {
  // The command name may hold spaces and parentheses: the fields that follow start after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] as string, startTime: fields[19] as string };
}

function readOwnIdentity(): ProcessIdentity | undefined {
  try {
    return {
      boot: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
      pidNamespace: readlinkSync('/proc/self/ns/pid'),
      hostname: os.hostname(),
      pid: process.pid,
      startTime: parseProcStat(readFileSync('/proc/self/stat', 'utf8')).startTime,
    };
  } catch {
    // No /proc (not Linux): nothing can be told about other processes.
    return undefined;
  }
}

let own: ProcessIdentity | null | undefined;

/** This process; `undefined` where /proc cannot identify it. */
export function ownProcessIdentity(): ProcessIdentity | undefined {
  if (own === undefined) own = readOwnIdentity() ?? null;
  return own ?? undefined;
}

/**
 * Whether the process `pid` that started at `startTime` runs no more, as this pid namespace's
 * /proc shows it: gone, a zombie (killed, not yet reaped), or the pid reused by a later process.
 */
export async function isProcessGone(pid: number, startTime: string): Promise<boolean> {
  const self = ownProcessIdentity();
  if (self !== undefined && pid === self.pid) return startTime !== self.startTime;
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return true;
  }
  const proc = parseProcStat(text);
  return proc.state === 'Z' || proc.state === 'X' || proc.startTime !== startTime;
}
