/**
 * Where the time and the memory go: one broker run under `--cpu-prof` and `--heap-prof`, started,
 * left idle, then loaded with cached GETs on its socket. The CPU profile is split into the start-up
 * (spawn to /readyz 200) and the measured load; self time is summed by function and by package.
 * The heap profile (V8's sampling heap profiler, objects still live when the broker exits) is summed
 * by the package that allocated them.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { type BrokerChild, bearer, startBrokerChild } from './broker-child.js';
import { httpCall } from './endpoints.js';
import { measure } from './load.js';
import { heapSummary, type ProfileSlice, sliceCpuProfile } from './profile-summary.js';
import type { BenchSettings } from './scenarios.js';

export interface ProfileResults {
  readyMs: number;
  startup: ProfileSlice;
  load: ProfileSlice;
  requestsPerSecond: number;
  heap: ProfileSlice;
  /** The broker's own heap figures from /metrics (prom-client's default metrics), when it exports them. */
  runtimeMemory: Record<string, number>;
}

export async function profileBroker(dir: string, hotId: string, settings: BenchSettings): Promise<ProfileResults> {
  const profileDir = path.join(dir, 'profiles');
  const spawnedAt = performance.now();
  const broker = await startBrokerChild({
    dir,
    name: 'profile',
    nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, '--heap-prof', `--heap-prof-dir=${profileDir}`],
  });
  let loadFrom = 0;
  let loadTo = 0;
  let requestsPerSecond = 0;
  let runtimeMemory: Record<string, number> = {};
  try {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const result = await measure({
      endpoint: broker.socket,
      path: `/secrets/${hotId}`,
      headers: bearer(broker.token),
      connections: settings.connections,
      warmupSeconds: settings.warmupSeconds,
      seconds: settings.seconds,
      afterWarmup: async () => {
        loadFrom = performance.now() - spawnedAt;
      },
    });
    loadTo = performance.now() - spawnedAt;
    requestsPerSecond = result.requestsPerSecond;
    runtimeMemory = await memoryMetrics(broker);
  } finally {
    // A graceful exit is what writes the profiles.
    await broker.server.stop(15_000);
  }
  const cpu = JSON.parse(await readFile(await onlyFile(profileDir, '.cpuprofile'), 'utf8'));
  const heap = JSON.parse(await readFile(await onlyFile(profileDir, '.heapprofile'), 'utf8'));
  return {
    readyMs: broker.readyMs,
    startup: sliceCpuProfile(cpu, 0, broker.readyMs),
    load: sliceCpuProfile(cpu, loadFrom, loadTo),
    requestsPerSecond,
    heap: heapSummary(heap),
    runtimeMemory,
  };
}

async function onlyFile(dir: string, extension: string): Promise<string> {
  const names = (await readdir(dir)).filter((name) => name.endsWith(extension));
  if (names.length !== 1) throw new Error(`expected one ${extension} in ${dir}, found ${names.length}`);
  return path.join(dir, names[0] as string);
}

const MEMORY_METRICS = [
  'nodejs_heap_size_used_bytes',
  'nodejs_heap_size_total_bytes',
  'nodejs_external_memory_bytes',
  'process_resident_memory_bytes',
];

async function memoryMetrics(broker: BrokerChild): Promise<Record<string, number>> {
  const answer = await httpCall(broker.socket, { path: '/metrics', headers: bearer(broker.token) });
  const found: Record<string, number> = {};
  if (answer.status !== 200) return found;
  for (const line of answer.body.split('\n')) {
    const name = MEMORY_METRICS.find(
      (metric) => line.startsWith(`secrets_broker_${metric} `) || line.startsWith(`${metric} `),
    );
    if (name) found[name] = Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return found;
}
