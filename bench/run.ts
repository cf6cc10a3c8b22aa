/**
 * `npm run bench`: every figure of issue 5 from one run on one machine, printed as Markdown tables
 * and written to bench/results/ (latest.json plus a timestamped copy). Targets are reported as met
 * or not met; the benchmark never fails because of a figure, only if a measurement could not run.
 *
 * Environment (for quick trial runs; the committed results use the defaults):
 * BENCH_SECONDS (10), BENCH_WARMUP_SECONDS (5), BENCH_READY_STARTS (7).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readMemory } from './child-processes.js';
import { measurePuts } from './conditional-puts.js';
import { checkTargets, type Machine, median, renderTables, writeResults } from './report.js';
import {
  type BenchSettings,
  benchValue,
  idleRss,
  measureBareStarts,
  measureCachedGets,
  measureCoalescing,
  measureColdReads,
  measureStarts,
  saveBrokerAnswer,
  seedStore,
} from './scenarios.js';

const RESULTS_DIR = fileURLToPath(new URL('../../bench/results/', import.meta.url));
/** The whole run must end; a hung child or load generator fails it instead. */
const RUN_LIMIT_MS = 15 * 60_000;
/** How long the freshly started broker sits idle before its RSS is read. */
const IDLE_SETTLE_MS = 2000;

function settingsFromEnv(): BenchSettings {
  const number = (name: string, fallback: number) => {
    const text = process.env[name];
    const value = text === undefined ? fallback : Number(text);
    if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number of 0 or more`);
    return value;
  };
  return {
    connections: 32,
    warmupSeconds: number('BENCH_WARMUP_SECONDS', 5),
    seconds: number('BENCH_SECONDS', 10),
    valueBytes: 1024,
    readyStarts: Math.max(1, Math.round(number('BENCH_READY_STARTS', 7))),
    concurrentReaders: 1000,
    coldIds: 256,
  };
}

function machine(loadBefore: number[]): Machine {
  const cpus = os.cpus();
  return {
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
    loadBefore,
    loadAfter: os.loadavg(),
    loadBySteps,
  };
}

/** The 1-minute load average as each step began: other work on the machine shows up here. */
const loadBySteps: { step: string; load1: number }[] = [];

function step(text: string): void {
  loadBySteps.push({ step: text, load1: os.loadavg()[0] ?? 0 });
  process.stderr.write(`bench: ${text}\n`);
}

async function main(): Promise<void> {
  const settings = settingsFromEnv();
  const startedAt = new Date().toISOString();
  const loadBefore = os.loadavg();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-bench-'));
  try {
    const value = benchValue(settings.valueBytes);
    step(`seeding ${settings.coldIds + settings.connections + 2} secrets in ${dir}`);
    await seedStore(dir, settings, value);
    step(`starting the broker ${settings.readyStarts} times`);
    const { samplesMs, broker } = await measureStarts(dir, settings.readyStarts);
    let results: Parameters<typeof checkTargets>[0];
    try {
      const idleRssBytes = await idleRss(broker, IDLE_SETTLE_MS);
      step(`${settings.concurrentReaders} concurrent reads of one uncached id`);
      const coalescing = await measureCoalescing(broker, settings.concurrentReaders);
      const bodyFile = await saveBrokerAnswer(dir, broker);
      step('bare Fastify start-up and memory, for reference');
      const bare = await measureBareStarts(dir, bodyFile, settings.readyStarts, IDLE_SETTLE_MS);
      step('cached GET vs bare Fastify, socket then TCP');
      const cached = await measureCachedGets(dir, broker, bodyFile, settings);
      const { peakRssBytes } = await readMemory(broker.server.pid);
      await broker.server.stop();
      step('cold reads through the file backend (cache off)');
      const coldRead = await measureColdReads(dir, settings);
      step('conditional PUT with and without locks');
      const put = await measurePuts(dir, settings, value);
      results = {
        startedAt,
        finishedAt: new Date().toISOString(),
        machine: machine(loadBefore),
        settings: { ...settings },
        cachedGet: { socket: cached.socket, tcp: cached.tcp },
        coldRead,
        put,
        memory: { idleRssBytes, loadRssBytes: cached.loadRssBytes, peakRssBytes },
        ready: { medianMs: median(samplesMs), samplesMs },
        bare: { ...bare, loadRssBytes: cached.bareLoadRssBytes },
        coalescing,
      };
    } finally {
      await broker.server.stop();
    }
    const targets = checkTargets(results);
    process.stdout.write(renderTables(results, targets));
    const file = await writeResults(RESULTS_DIR, results, targets);
    step(`results written to ${path.relative(process.cwd(), file)} and bench/results/latest.json`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const limit = setTimeout(() => {
  process.stderr.write(`bench: gave up after ${RUN_LIMIT_MS / 60_000} minutes\n`);
  process.exit(1);
}, RUN_LIMIT_MS);
limit.unref();

main().then(
  () => {
    clearTimeout(limit);
  },
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
