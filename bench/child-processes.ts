/**
 * Servers under test run as child processes so that the load generator (this process) and the
 * server each get a core of a two-core machine, instead of starving each other in one event loop.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ServerChild {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Everything the child wrote to stdout and stderr so far. */
  output(): string;
  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

const running = new Set<ChildProcess>();

const SIDECAR_MANIFEST = fileURLToPath(new URL('../../deploy/components/sidecar/sidecar.yaml', import.meta.url));

/**
 * The Node flags the sidecar ships with (the manifest's NODE_OPTIONS), given to every server under
 * test, the bare baseline included: the broker is measured as it runs in a pod, and both sides of
 * every ratio run on the same Node with the same flags.
 */
export const SHIPPED_NODE_OPTIONS = (() => {
  const manifest = readFileSync(SIDECAR_MANIFEST, 'utf8');
  const match = /name: NODE_OPTIONS\s*\n\s*value: (.+)/.exec(manifest);
  if (!match) throw new Error(`${SIDECAR_MANIFEST} sets no NODE_OPTIONS: the benchmark mirrors what it ships`);
  return (match[1] as string).trim();
})();

const DOCKERFILE = fileURLToPath(new URL('../../Dockerfile', import.meta.url));

/**
 * The malloc setting the image gives every process in it (its `ENV MALLOC_ARENA_MAX`), given to
 * every server under test like the Node flags above.
 */
export const SHIPPED_MALLOC_ARENA_MAX = (() => {
  const match = /^ENV MALLOC_ARENA_MAX=(\d+)\s*$/m.exec(readFileSync(DOCKERFILE, 'utf8'));
  if (!match) throw new Error(`${DOCKERFILE} sets no MALLOC_ARENA_MAX: the benchmark mirrors what the image sets`);
  return match[1] as string;
})();

/**
 * Node's compile cache, as the image prepares it at build time: the first start of each script fills
 * it, later starts read it. Shared by every server under test, the baseline too.
 */
const COMPILE_CACHE_DIR = mkdtempSync(path.join(os.tmpdir(), 'sb-bench-compile-cache-'));

// A benchmark that throws half way must not leave servers behind.
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * Starts `node <args>` with exactly `env` (plus PATH), collecting its output. BENCH_NODE_ARGS, if
 * set, is put before the script (space-separated): `--cpu-prof --cpu-prof-dir=<dir>` profiles
 * every server under test (Node refuses --cpu-prof in NODE_OPTIONS); `extraNodeArgs` does the same for
 * this child only.
 */
export function spawnNode(
  args: string[],
  env: Record<string, string>,
  cwd: string,
  extraNodeArgs: string[] = [],
): ServerChild {
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');
  const child = spawn(process.execPath, [...nodeArgs, ...extraNodeArgs, ...args], {
    cwd,
    env: {
      PATH: process.env.PATH ?? '',
      NODE_OPTIONS: SHIPPED_NODE_OPTIONS,
      MALLOC_ARENA_MAX: SHIPPED_MALLOC_ARENA_MAX,
      NODE_COMPILE_CACHE: COMPILE_CACHE_DIR,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not start node ${args.join(' ')}`);
  running.add(child);
  let text = '';
  const collect = (chunk: Buffer) => {
    // Keep the tail only: a long run must not grow this process's memory.
    text = (text + chunk.toString('utf8')).slice(-64 * 1024);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  exited.then(() => running.delete(child));
  return {
    child,
    pid: child.pid,
    output: () => text,
    stop: async (graceMs = 5000) => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Waits until the child's output contains `marker`; fails early if it exits. */
export async function waitForOutput(server: ServerChild, marker: string, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!server.output().includes(marker)) {
    if (server.child.exitCode !== null) {
      throw new Error(`child exited with ${server.child.exitCode}:\n${server.output()}`);
    }
    if (performance.now() > deadline) throw new Error(`child did not print '${marker}':\n${server.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export interface Memory {
  /** Resident set size now, bytes. */
  rssBytes: number;
  /** Peak resident set size since the process started, bytes. */
  peakRssBytes: number;
}

/** Reads VmRSS and VmHWM of `pid` from /proc (Linux). */
export async function readMemory(pid: number): Promise<Memory> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
    if (!match) throw new Error(`/proc/${pid}/status has no ${field}`);
    return Number(match[1]) * 1024;
  };
  return { rssBytes: kib('VmRSS'), peakRssBytes: kib('VmHWM') };
}

/** Samples a child's RSS every `intervalMs` while a load runs; `stop()` gives the largest sample. */
export function sampleRss(pid: number, intervalMs = 250): { stop(): Promise<number> } {
  let largest = 0;
  const timer = setInterval(() => {
    readMemory(pid).then(
      (memory) => {
        largest = Math.max(largest, memory.rssBytes);
      },
      () => undefined,
    );
  }, intervalMs);
  return {
    stop: async () => {
      clearInterval(timer);
      const last = await readMemory(pid);
      return Math.max(largest, last.rssBytes);
    },
  };
}

/** Clock ticks per second of /proc/<pid>/stat's CPU times (100 on almost every Linux). */
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU time (user + system) `pid` has used since it started, in microseconds, from /proc/<pid>/stat. */
export async function readCpuMicros(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15, i.e. the 12th and 13th after the name.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks / CLOCK_TICKS) * 1e6;
}
