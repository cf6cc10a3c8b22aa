/**
 * The benchmark's results: one JSON document per run (bench/results/latest.json), with the issue's
 * targets judged against it, and the number formats the tables use.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AwsResults } from './aws-scenarios.js';
import type { ImageStart } from './image-start.js';
import type { ListAtScaleResults } from './list-at-scale.js';
import type { LoadResult } from './load.js';
import type { ProfileResults } from './profile.js';

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
  /** Process CPU time (user + system) over the measured run divided by the requests served. */
  brokerCpuMicrosPerRead: number;
  bareCpuMicrosPerRead: number;
}

export type NotMeasured = { notMeasured: string };

export interface BenchResults {
  startedAt: string;
  finishedAt: string;
  machine: Machine;
  settings: Record<string, number>;
  cachedGet: { socket: CachedGetPair; tcp: CachedGetPair };
  /** Cache off (TTL 0), reads rotating over many ids: every read goes to the file backend. */
  coldRead: LoadResult & { backendGetsPerRead: number };
  put: { locks: LoadResult; noLocks: LoadResult };
  memory: { idleRssBytes: number; loadRssBytes: number; afterBurstRssBytes?: number; peakRssBytes: number };
  ready: { medianMs: number; samplesMs: number[] };
  /** The bare Fastify server's start (spawn to first 200) and idle RSS: the runtime's own floor. */
  bare: { startSamplesMs: number[]; idleRssBytes: number; loadRssBytes: number };
  coalescing: {
    readers: number;
    backendCalls: number;
    statuses: Record<string, number>;
    xCache: Record<string, number>;
  };
  aws: AwsResults;
  listAtScale: ListAtScaleResults | NotMeasured;
  image: ImageStart;
  /** Present when a target was not met (or BENCH_PROFILE=1). */
  profile?: ProfileResults | NotMeasured;
}

/** Writes `latest.json` into `dir` (the history is the repository's); returns its path. */
export async function writeResults(dir: string, r: BenchResults, targets: unknown): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, 'latest.json');
  await writeFile(file, `${formatJson({ ...r, targets })}\n`);
  return file;
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

export const MIB = 1024 * 1024;

/** Milliseconds: two decimals below 100, none above. */
export function ms(x: number): string {
  if (!Number.isFinite(x)) return '-';
  return x >= 100 ? x.toFixed(0) : x.toFixed(2);
}

export function mib(bytes: number): string {
  return `${(bytes / MIB).toFixed(1)} MiB`;
}

export function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

/** `200: 1000, 503: 2` */
export function counts(c: Record<string, number>): string {
  const entries = Object.entries(c);
  return entries.length === 0 ? 'none' : entries.map(([k, v]) => `${k}: ${v}`).join(', ');
}

/** 12345.6 -> `12,346` */
export function whole(x: number): string {
  return Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-';
}
