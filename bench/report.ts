/**
 * The benchmark's results: one JSON document per run (bench/results/latest.json and a timestamped
 * copy), the targets judged against it, and the Markdown tables printed at the end.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { LoadResult } from './load.js';

export interface Machine {
  node: string;
  platform: string;
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  /** 1, 5 and 15 minute load averages before the first and after the last measurement. */
  loadBefore: number[];
  loadAfter: number[];
  loadBySteps: { step: string; load1: number }[];
}

export interface CachedGetPair {
  broker: LoadResult;
  bare: LoadResult;
  /** broker requests/s divided by bare Fastify requests/s */
  ratio: number;
  /** Share of the broker's measured reads answered `X-Cache: hit` (metrics delta). */
  hitRatio: number;
}

export interface BenchResults {
  startedAt: string;
  finishedAt: string;
  machine: Machine;
  settings: Record<string, number>;
  cachedGet: { socket: CachedGetPair; tcp: CachedGetPair };
  /** Cache off (TTL 0), reads rotating over many ids: every read goes to the file backend. */
  coldRead: LoadResult & { backendGetsPerRead: number };
  put: { locks: LoadResult; noLocks: LoadResult };
  memory: { idleRssBytes: number; loadRssBytes: number; peakRssBytes: number };
  ready: { medianMs: number; samplesMs: number[] };
  /** The bare Fastify server's start (spawn to first 200) and idle RSS: the runtime's own floor. */
  bare: { startSamplesMs: number[]; idleRssBytes: number; loadRssBytes: number };
  coalescing: {
    readers: number;
    backendCalls: number;
    statuses: Record<string, number>;
    xCache: Record<string, number>;
  };
}

export interface TargetCheck {
  target: string;
  measured: string;
  met: boolean;
}

const MIB = 1024 * 1024;

/** The targets of issue 5, judged against one run. */
export function checkTargets(r: BenchResults): TargetCheck[] {
  const { socket, tcp } = r.cachedGet;
  return [
    {
      target: 'cached GET >= 0.8x bare Fastify (socket)',
      measured: `${socket.ratio.toFixed(2)}x`,
      met: socket.ratio >= 0.8,
    },
    { target: 'cached GET >= 0.8x bare Fastify (TCP)', measured: `${tcp.ratio.toFixed(2)}x`, met: tcp.ratio >= 0.8 },
    {
      target: 'cached GET p99 < 5 ms at 32 connections (socket)',
      measured: `${ms(socket.broker.p99Ms)} ms`,
      met: socket.broker.p99Ms < 5,
    },
    {
      target: 'cached GET p99 < 5 ms at 32 connections (TCP)',
      measured: `${ms(tcp.broker.p99Ms)} ms`,
      met: tcp.broker.p99Ms < 5,
    },
    {
      target: 'idle RSS < 60 MB',
      measured: `${(r.memory.idleRssBytes / MIB).toFixed(1)} MiB`,
      met: r.memory.idleRssBytes < 60 * MIB,
    },
    { target: 'start to /readyz 200 < 500 ms', measured: `${ms(r.ready.medianMs)} ms`, met: r.ready.medianMs < 500 },
    {
      target: `exactly 1 backend call for ${r.coalescing.readers} concurrent cold reads`,
      measured: String(r.coalescing.backendCalls),
      met: r.coalescing.backendCalls === 1,
    },
  ];
}

/** The run as Markdown: the measurements, then the targets. */
export function renderTables(r: BenchResults, targets: TargetCheck[]): string {
  const m = r.machine;
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');
  const lines = [
    `Run ${r.startedAt}: Node ${m.node}, ${m.platform}, ${m.cpus} x ${m.cpuModel}, ${m.memoryGiB} GiB;`,
    `load average (1/5/15 min) ${load(m.loadBefore)} before, ${load(m.loadAfter)} after;`,
    `1-min load as each step began: ${m.loadBySteps.map((s) => s.load1.toFixed(2)).join(', ')}.`,
    `${r.settings.connections} connections, ${r.settings.warmupSeconds} s warm-up then ${r.settings.seconds} s measured per row; value ${r.settings.valueBytes} bytes.`,
    '',
    '| measurement | requests/s | p50 ms | p99 ms | notes |',
    '|---|---:|---:|---:|---|',
  ];
  const row = (name: string, x: LoadResult, notes: string) =>
    lines.push(
      `| ${name} | ${Math.round(x.requestsPerSecond)} | ${ms(x.p50Ms)} | ${ms(x.p99Ms)} | ${notes}${failures(x)} |`,
    );
  for (const listener of ['socket', 'tcp'] as const) {
    const pair = r.cachedGet[listener];
    const label = listener === 'socket' ? 'Unix socket' : 'TCP';
    row(`cached GET, broker, ${label}`, pair.broker, `${pair.ratio.toFixed(2)}x bare; ${pct(pair.hitRatio)} hits`);
    row(`bare Fastify, ${label}`, pair.bare, 'same JSON, same listener');
  }
  row(
    'cold GET (cache off), file backend, socket',
    r.coldRead,
    `${r.coldRead.backendGetsPerRead.toFixed(2)} backend gets per read`,
  );
  const lockCost = r.put.locks.p50Ms - r.put.noLocks.p50Ms;
  row('conditional PUT, with locks, socket', r.put.locks, `lock adds ${ms(lockCost)} ms at p50`);
  row('conditional PUT, locking off, socket', r.put.noLocks, 'same process shape, no-op locks');
  lines.push(
    '',
    '| other | value |',
    '|---|---|',
    `| RSS idle (after start) | ${mib(r.memory.idleRssBytes)} |`,
    `| RSS under load (largest sample) | ${mib(r.memory.loadRssBytes)} |`,
    `| RSS peak (VmHWM) | ${mib(r.memory.peakRssBytes)} |`,
    `| RSS idle, bare Fastify (reference) | ${mib(r.bare.idleRssBytes)} |`,
    `| RSS under load, bare Fastify (reference) | ${mib(r.bare.loadRssBytes)} |`,
    `| start to /readyz 200, median of ${r.ready.samplesMs.length} | ${ms(r.ready.medianMs)} ms (${r.ready.samplesMs.map(ms).join(', ')}) |`,
    `| start to first 200, bare Fastify (reference), median | ${ms(median(r.bare.startSamplesMs))} ms (${r.bare.startSamplesMs.map(ms).join(', ')}) |`,
    `| ${r.coalescing.readers} concurrent GETs of one uncached id | ${r.coalescing.backendCalls} backend call(s); X-Cache ${counts(r.coalescing.xCache)}; status ${counts(r.coalescing.statuses)} |`,
    '',
    '| target | measured | met |',
    '|---|---|---|',
    ...targets.map((t) => `| ${t.target} | ${t.measured} | ${t.met ? 'met' : 'not met'} |`),
  );
  return `${lines.join('\n')}\n`;
}

/** Writes `latest.json` and a timestamped copy into `dir`; returns the timestamped path. */
export async function writeResults(dir: string, r: BenchResults, targets: TargetCheck[]): Promise<string> {
  await mkdir(dir, { recursive: true });
  const text = `${formatJson({ ...r, targets })}\n`;
  const stamped = path.join(dir, `${r.startedAt.replace(/[:.]/g, '-')}.json`);
  await writeFile(stamped, text);
  await writeFile(path.join(dir, 'latest.json'), text);
  return stamped;
}

/**
 * JSON as the repository's formatter writes it (so committed results pass the lint): two-space
 * indents, arrays of plain values on one line when they fit in 120 columns, numbers rounded to
 * three decimals (microseconds for millisecond figures).
 */
export function formatJson(value: unknown): string {
  const round = (_key: string, x: unknown) => (typeof x === 'number' ? Math.round(x * 1000) / 1000 : x);
  const text = JSON.stringify(value, round, 2);
  return text.replace(/^( *)("[^"]*": )?\[\n([^[\]{}]*?)\n *\]/gm, (whole, indent: string, key = '', body: string) => {
    const line = `${indent}${key}[${body
      .split('\n')
      .map((item) => item.trim().replace(/,$/, ''))
      .join(', ')}]`;
    return line.length <= 120 ? line : whole;
  });
}

/** The middle value (mean of the two middle ones for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function ms(x: number): string {
  return x >= 100 ? x.toFixed(0) : x.toFixed(2);
}

function mib(bytes: number): string {
  return `${(bytes / MIB).toFixed(1)} MiB`;
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

function counts(c: Record<string, number>): string {
  return Object.entries(c)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ');
}

function failures(x: LoadResult): string {
  return x.notOk > 0 || x.errors > 0 ? `; ${x.notOk} non-2xx, ${x.errors} errors` : '';
}
