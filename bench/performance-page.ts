/**
 * docs/performance.md, generated from one run: the targets, the measurements, the machine and its
 * load by step, and (when a target is not met) where the time and memory go. How the bench
 * measures is in bench/method.md, appended as it is.
 */
import { readFile } from 'node:fs/promises';
import type { LoadResult } from './load.js';
import type { ServerProfile } from './profile.js';
import type { ProfileEntry, ProfileSlice } from './profile-summary.js';
import { type BenchResults, counts, median, mib, ms, pct, whole } from './report.js';
import type { LoopResult } from './request-loop.js';
import { type TargetCheck, verdict } from './targets.js';

const METHOD = new URL('../../bench/method.md', import.meta.url);

export async function renderPage(r: BenchResults, targets: TargetCheck[]): Promise<string> {
  const sections = [
    intro(r),
    targetTable(targets),
    measurements(r),
    otherFigures(r),
    loadBySteps(r),
    profileSection(r),
    (await readFile(METHOD, 'utf8')).trim(),
  ];
  return `${sections.filter((s) => s !== '').join('\n\n')}\n`;
}

function intro(r: BenchResults): string {
  const m = r.machine;
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');
  return [
    '# Performance',
    '',
    '<!-- Written by `npm run bench` (bench/performance-page.ts, bench/method.md): change those, not this page. -->',
    '',
    `The latest run of \`npm run bench\`, ${r.startedAt} to ${r.finishedAt}.`,
    `Node ${m.node} on ${m.platform}, ${m.cpus} x ${m.cpuModel}, ${m.memoryGiB} GiB.`,
    `Load average (1/5/15 min) ${load(m.loadBefore)} before the run and ${load(m.loadAfter)} after it.`,
    `${r.settings.connections} connections, ${r.settings.warmupSeconds} s warm-up then ${r.settings.seconds} s measured per load row; values of ${r.settings.valueBytes} bytes.`,
    'Every ratio is against a bare Fastify route on the same Node, serving the same JSON from the same kind of',
    'listener, measured in the same run: on a shared machine, read the ratios rather than single figures.',
  ].join('\n');
}

function targetTable(targets: TargetCheck[]): string {
  return [
    '## Targets',
    '',
    '| target | bar | goal | measured | verdict |',
    '|---|---|---|---|---|',
    ...targets.map((t) => `| ${t.target} | ${t.bar} | ${t.goal || '-'} | ${cell(t.measured)} | ${verdict(t)} |`),
  ].join('\n');
}

function measurements(r: BenchResults): string {
  const lines = [
    '## Measurements',
    '',
    '| measurement | requests/s | p50 ms | p99 ms | max ms | notes |',
    '|---|---:|---:|---:|---:|---|',
  ];
  const row = (name: string, x: LoadResult, notes: string) =>
    lines.push(
      `| ${name} | ${whole(x.requestsPerSecond)} | ${ms(x.p50Ms)} | ${ms(x.p99Ms)} | ${ms(x.maxMs)} | ${notes}${failures(x)} |`,
    );
  for (const listener of ['socket', 'tcp'] as const) {
    const pair = r.cachedGet[listener];
    const label = listener === 'socket' ? 'Unix socket' : 'TCP';
    row(
      `cached GET, broker, ${label}`,
      pair.broker,
      `${pair.ratio.toFixed(2)}x bare; ${pct(pair.hitRatio)} hits; ${pair.brokerCpuMicrosPerRead.toFixed(1)} µs CPU per read`,
    );
    row(`bare Fastify, ${label}`, pair.bare, `same JSON; ${pair.bareCpuMicrosPerRead.toFixed(1)} µs CPU per read`);
  }
  row(
    'cold GET (cache off), file backend, socket',
    r.coldRead,
    `${r.coldRead.backendGetsPerRead.toFixed(2)} backend gets per read`,
  );
  const lockCost = r.put.locks.p50Ms - r.put.noLocks.p50Ms;
  row(
    'conditional PUT, with locks, socket',
    r.put.locks,
    `p50 ${lockCost >= 0 ? '+' : ''}${ms(lockCost)} ms against locking off`,
  );
  row('conditional PUT, locking off, socket', r.put.noLocks, 'same process shape, no-op locks');
  return lines.join('\n');
}

function otherFigures(r: BenchResults): string {
  const lines = [
    '| other | value |',
    '|---|---|',
    `| RSS idle (2 s after start), broker / bare | ${mib(r.memory.idleRssBytes)} / ${mib(r.bare.idleRssBytes)} |`,
    `| RSS under load (largest sample), broker / bare | ${mib(r.memory.loadRssBytes)} / ${mib(r.bare.loadRssBytes)} |`,
    ...(r.memory.afterBurstRssBytes === undefined
      ? []
      : [
          `| RSS of the broker after ${whole(r.coalescing.readers)} concurrent reads (after the load rows) | ${mib(r.memory.afterBurstRssBytes)} |`,
        ]),
    `| RSS peak of the broker (VmHWM) | ${mib(r.memory.peakRssBytes)} |`,
    `| spawn to /readyz 200, broker, median of ${r.ready.samplesMs.length} | ${ms(r.ready.medianMs)} ms (${r.ready.samplesMs.map(ms).join(', ')}) |`,
    `| spawn to first 200, bare, median | ${ms(median(r.bare.startSamplesMs))} ms (${r.bare.startSamplesMs.map(ms).join(', ')}) |`,
    `| ${r.coalescing.readers} concurrent GETs of one uncached id (file) | ${r.coalescing.backendCalls} backend call(s); X-Cache ${counts(r.coalescing.xCache)}; status ${counts(r.coalescing.statuses)} |`,
  ];
  if (r.aws.notMeasured === undefined) {
    lines.push(`| AWS (moto): calls for ${r.aws.misses} cache misses | ${counts(r.aws.missCalls)} |`);
    for (const { mode, ttlMs, result } of r.aws.stale) {
      lines.push(
        `| AWS backend ${mode === 'reset' ? 'resetting connections' : 'not answering'}, reads past a ${ttlMs} ms TTL | ` +
          `${loop(result)} |`,
      );
    }
  }
  const s = r.listAtScale;
  if (!('notMeasured' in s)) {
    const perSecret = (s.idleRssBytes - r.memory.idleRssBytes) / s.secrets;
    lines.push(
      `| lists at scale: store of ${whole(s.secrets)} secrets | seeded in ${s.seedSeconds.toFixed(1)} s; spawn to /readyz ${ms(s.readyMs)} ms; RSS idle ${mib(s.idleRssBytes)} (${whole(perSecret)} bytes per secret over the small store's idle RSS), under load ${mib(s.loadRssBytes)} |`,
      `| lists at scale: cached GETs of one id meanwhile, ${s.getReaders} readers pausing ${s.getThinkMs} ms between reads | ${loop(s.cachedGet)} |`,
      `| lists at scale: ${s.listers} lists, filter \`${s.filter}\` (no literal prefix), limit 100 | page p50 ${ms(s.listPages.p50Ms)} ms, p99 ${ms(s.listPages.p99Ms)} ms, max ${ms(s.listPages.maxMs)} ms; ${whole(s.listPages.requests)} pages, status ${counts(s.listPages.statuses)}${s.listPages.errors ? `, ${s.listPages.errors} without an answer within 30 s` : ''}; ${s.listings.count} whole listings, p50 ${ms(s.listings.p50Ms)} ms, max ${ms(s.listings.maxMs)} ms |`,
    );
  }
  const image = r.image;
  if (!('notMeasured' in image)) {
    lines.push(
      `| built image under \`--cpus ${image.cpus}\`, ${image.runs} starts | ready ${image.readyAfterStartMs.join(', ')} ms after the container's start; ` +
        `median ${whole(image.medianReadyAfterPodmanRunMs)} ms from \`podman run\`, ${image.medianCpuToReadyMs ?? '-'} ms of CPU to ready; ` +
        `image ${whole(image.imageBytes / 1e6)} MB; idle RSS in the container ${mib(image.idleRssKiB * 1024)} |`,
    );
  }
  return lines.join('\n');
}

function loadBySteps(r: BenchResults): string {
  return [
    '### Load on the machine by step',
    '',
    '| step | 1-min load as it began |',
    '|---|---:|',
    ...r.machine.loadBySteps.map((s) => `| ${cell(s.step)} | ${s.load1.toFixed(2)} |`),
  ].join('\n');
}

function profileSection(r: BenchResults): string {
  const p = r.profile;
  if (p === undefined) return '';
  if ('notMeasured' in p) return `## Where the time and memory go\n\nNo profile: ${p.notMeasured}`;
  const { broker, bare } = p;
  const perRead = (server: ServerProfile) => (x: number) => (x * 1000) / Math.max(1, server.requests);
  const memory = Object.entries(p.runtimeMemory)
    .filter(([, bytes]) => bytes >= 0.05 * 1024 * 1024)
    .map(([name, bytes]) => `\`${name}\` ${mib(bytes)}`)
    .join(', ');
  return [
    '## Where the time and memory go',
    '',
    'The broker and then the bare server, each started once more under `--cpu-prof --heap-prof`, idle for a',
    `second, then loaded with cached GETs on the socket (${r.settings.connections} connections; under the profiler`,
    `${whole(broker.requestsPerSecond)} and ${whole(bare.requestsPerSecond)} requests/s). Self time is the time a function was on top of`,
    "the stack; a package's figure sums its functions, and a native binding (a syscall, a cipher, a string",
    'write) counts for the package of the JavaScript that called it.',
    '',
    `### CPU per cached read: ${perRead(broker)(broker.load.total).toFixed(1)} µs (broker) vs ${perRead(bare)(bare.load.total).toFixed(1)} µs (bare)`,
    '',
    compare(broker.load, bare.load, ['broker µs/read', 'bare µs/read'], perRead(broker), perRead(bare), (x) =>
      x.toFixed(2),
    ),
    '',
    functions(broker.load, 'broker µs/read', (x) => perRead(broker)(x).toFixed(2)),
    '',
    `### Start-up: ${ms(broker.startup.total)} ms of CPU to /readyz 200 (${ms(broker.readyMs)} ms) vs ${ms(bare.startup.total)} ms to listening (${ms(bare.readyMs)} ms)`,
    '',
    compare(
      broker.startup,
      bare.startup,
      ['broker ms', 'bare ms'],
      (x) => x,
      (x) => x,
      ms,
    ),
    '',
    functions(broker.startup, 'broker ms', ms),
    '',
    `### Memory: live JS objects at exit, sampled: ${mib(broker.heap.total)} (broker) vs ${mib(bare.heap.total)} (bare)`,
    '',
    memory === '' ? '' : `The broker's own figures in the middle of the load: ${memory}.\n`,
    compare(
      broker.heap,
      bare.heap,
      ['broker', 'bare'],
      (x) => x,
      (x) => x,
      mib,
    ),
    '',
    functions(broker.heap, 'broker', mib),
  ].join('\n');
}

const TOP_ROWS = 12;

/** The broker's largest packages beside the bare server's figure for the same package. */
function compare(
  broker: ProfileSlice,
  bare: ProfileSlice,
  headings: [string, string],
  scaleBroker: (x: number) => number,
  scaleBare: (x: number) => number,
  format: (x: number) => string,
): string {
  const bareBy = new Map(bare.packages.map((e) => [e.name, e.amount]));
  return [
    `| package | ${headings[0]} | share | ${headings[1]} |`,
    '|---|---:|---:|---:|',
    ...broker.packages.slice(0, TOP_ROWS).map((e) => {
      const other = bareBy.get(e.name);
      return `| ${cell(e.name)} | ${format(scaleBroker(e.amount))} | ${pct(e.share)} | ${other === undefined ? '-' : format(scaleBare(other))} |`;
    }),
  ].join('\n');
}

function functions(slice: ProfileSlice, heading: string, format: (x: number) => string): string {
  return [
    `| function | ${heading} | share |`,
    '|---|---:|---:|',
    ...slice.functions.map((e: ProfileEntry) => `| ${cell(e.name)} | ${format(e.amount)} | ${pct(e.share)} |`),
  ].join('\n');
}

/** p50, p99, max, rate, statuses, X-Cache and errors of a request loop. */
function loop(result: LoopResult): string {
  return (
    `p50 ${ms(result.p50Ms)} ms, p99 ${ms(result.p99Ms)} ms, max ${ms(result.maxMs)} ms; ${whole(result.requestsPerSecond)} reads/s; ` +
    `status ${counts(result.statuses)}; X-Cache ${counts(result.xCache)}${result.errors ? `; ${result.errors} errors` : ''}`
  );
}

/** Text safe inside a Markdown table cell. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function failures(x: LoadResult): string {
  return x.notOk > 0 || x.errors > 0 ? `; ${x.notOk} non-2xx (${counts(x.statuses)}), ${x.errors} errors` : '';
}
