/**
 * Where the time and the memory go: the broker, then the bare Fastify server, each run once under
 * `--cpu-prof` and `--heap-prof`, started, left idle, then loaded with cached GETs on its socket.
 * Each CPU profile is split into the start-up (spawn to first answer) and the measured load; self
 * time is summed by function and by package. The heap profile (V8's sampling heap profiler,
 * objects still live when the process exits) is summed by the package that allocated them.
 */
import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { bearer, startBrokerChild } from './broker-child.js';
import { type ServerChild, spawnNode, waitForOutput } from './child-processes.js';
import { type Endpoint, httpCall } from './endpoints.js';
import { measure } from './load.js';
import { heapSummary, type ProfileSlice, sliceCpuProfile } from './profile-summary.js';
import { BARE_SERVER, type BenchSettings } from './scenarios.js';

export interface ServerProfile {
  /** Spawn to first answer (broker: /readyz 200; bare: listening), under the profiler. */
  readyMs: number;
  startup: ProfileSlice;
  load: ProfileSlice;
  /** Requests served in the measured run: CPU per request is `load.total / requests`. */
  requests: number;
  requestsPerSecond: number;
  heap: ProfileSlice;
}

export interface ProfileResults {
  broker: ServerProfile;
  bare: ServerProfile;
  /** The broker's own memory figures from /metrics (prom-client's defaults) mid-load, when it has them. */
  runtimeMemory: Record<string, number>;
}

interface Profiled {
  server: ServerChild;
  endpoint: Endpoint;
  readyMs: number;
  spawnedAt: number;
  token: string;
}

export async function profileBoth(
  dir: string,
  hotId: string,
  bodyFile: string,
  settings: BenchSettings,
): Promise<ProfileResults> {
  let runtimeMemory: Record<string, number> = {};
  const broker = await profileServer(
    path.join(dir, 'profile-broker'),
    hotId,
    settings,
    async (nodeArgs) => {
      const spawnedAt = performance.now();
      const child = await startBrokerChild({ dir, name: 'profile', nodeArgs });
      return { server: child.server, endpoint: child.socket, readyMs: child.readyMs, spawnedAt, token: child.token };
    },
    async (profiled) => {
      runtimeMemory = await memoryMetrics(profiled);
    },
  );
  const bare = await profileServer(path.join(dir, 'profile-bare'), hotId, settings, async (nodeArgs) => {
    const socketPath = path.join(dir, 'bare-profile.sock');
    const spawnedAt = performance.now();
    const server = spawnNode([BARE_SERVER, bodyFile, 'socket', socketPath], {}, dir, nodeArgs);
    await waitForOutput(server, 'bare server listening', 20_000);
    const readyMs = performance.now() - spawnedAt;
    return { server, endpoint: { kind: 'socket', socketPath }, readyMs, spawnedAt, token: 'unused' };
  });
  return { broker, bare, runtimeMemory };
}

async function profileServer(
  profileDir: string,
  hotId: string,
  settings: BenchSettings,
  start: (nodeArgs: string[]) => Promise<Profiled>,
  midLoad: (profiled: Profiled) => Promise<void> = async () => undefined,
): Promise<ServerProfile> {
  await mkdir(profileDir, { recursive: true });
  const profiled = await start([
    '--cpu-prof',
    `--cpu-prof-dir=${profileDir}`,
    '--heap-prof',
    `--heap-prof-dir=${profileDir}`,
  ]);
  let loadFrom = 0;
  let loadTo = 0;
  let result: Awaited<ReturnType<typeof measure>>;
  try {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    let sampled: Promise<void> = Promise.resolve();
    result = await measure({
      endpoint: profiled.endpoint,
      path: `/secrets/${hotId}`,
      headers: bearer(profiled.token),
      connections: settings.connections,
      warmupSeconds: settings.warmupSeconds,
      seconds: settings.seconds,
      afterWarmup: async () => {
        loadFrom = performance.now() - profiled.spawnedAt;
        const timer = new Promise((resolve) => setTimeout(resolve, (settings.seconds * 1000) / 2));
        sampled = timer.then(() => midLoad(profiled));
      },
    });
    loadTo = performance.now() - profiled.spawnedAt;
    await sampled;
  } finally {
    // A graceful exit is what writes the profiles.
    await profiled.server.stop(15_000);
  }
  const cpu = JSON.parse(await readFile(await onlyFile(profileDir, '.cpuprofile'), 'utf8'));
  const heap = JSON.parse(await readFile(await onlyFile(profileDir, '.heapprofile'), 'utf8'));
  return {
    readyMs: profiled.readyMs,
    startup: sliceCpuProfile(cpu, 0, profiled.readyMs),
    load: sliceCpuProfile(cpu, loadFrom, loadTo),
    requests: result.ok + result.notOk,
    requestsPerSecond: result.requestsPerSecond,
    heap: heapSummary(heap),
  };
}

async function onlyFile(dir: string, extension: string): Promise<string> {
  const names = (await readdir(dir)).filter((name) => name.endsWith(extension));
  if (names.length !== 1) throw new Error(`expected one ${extension} in ${dir}, found ${names.length}`);
  return path.join(dir, names[0] as string);
}

/** prom-client's default memory metrics (RSS, heap, heap spaces), with or without the broker's prefix. */
const MEMORY_METRIC =
  /^(?:secrets_broker_)?((?:process_resident_memory|nodejs_heap_size_(?:used|total)|nodejs_external_memory|nodejs_heap_space_size_total)_bytes(?:\{space="\w+"\})?) (\S+)$/;

async function memoryMetrics(profiled: Profiled): Promise<Record<string, number>> {
  const answer = await httpCall(profiled.endpoint, { path: '/metrics', headers: bearer(profiled.token) });
  const found: Record<string, number> = {};
  if (answer.status !== 200) return found;
  for (const line of answer.body.split('\n')) {
    const match = MEMORY_METRIC.exec(line);
    if (match) found[match[1] as string] = Number(match[2]);
  }
  return found;
}
