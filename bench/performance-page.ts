/**
 * docs/performance.md, generated from one run: the targets, the measurements, the machine and its
 * load by step, and (when a target is not met) where the time and memory go. How the bench
 * measures is in bench/method.md, appended as it is.
 */
import { readFile } from 'node:fs/promises';
import type { LoadResult } from './load.js';
import type { ProfileEntry, ProfileSlice } from './profile-summary.js';
import { type BenchResults, counts, median, mib, ms, pct, whole } from './report.js';
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
  row('conditional PUT, with locks, socket', r.put.locks, `lock adds ${ms(lockCost)} ms at p50`);
  row('conditional PUT, locking off, socket', r.put.noLocks, 'same process shape, no-op locks');
  const s = r.listAtScale;
  if (!('notMeasured' in s)) {
    row(
      `cached GET while ${s.listers} lists run, ${whole(s.secrets)} secrets, socket`,
      s.cachedGet,
      `${s.getConnections} connections`,
    );
  }
  return lines.join('\n');
}

function otherFigures(r: BenchResults): string {
  const lines = [
    '| other | value |',
    '|---|---|',
    `| RSS idle (2 s after start), broker / bare | ${mib(r.memory.idleRssBytes)} / ${mib(r.bare.idleRssBytes)} |`,
    `| RSS under load (largest sample), broker / bare | ${mib(r.memory.loadRssBytes)} / ${mib(r.bare.loadRssBytes)} |`,
    `| RSS peak of the broker (VmHWM) | ${mib(r.memory.peakRssBytes)} |`,
    `| spawn to /readyz 200, broker, median of ${r.ready.samplesMs.length} | ${ms(r.ready.medianMs)} ms (${r.ready.samplesMs.map(ms).join(', ')}) |`,
    `| spawn to first 200, bare, median | ${ms(median(r.bare.startSamplesMs))} ms (${r.bare.startSamplesMs.map(ms).join(', ')}) |`,
    `| ${r.coalescing.readers} concurrent GETs of one uncached id (file) | ${r.coalescing.backendCalls} backend call(s); X-Cache ${counts(r.coalescing.xCache)}; status ${counts(r.coalescing.statuses)} |`,
  ];
  if (r.aws.notMeasured === undefined) {
    lines.push(`| AWS (moto): calls for ${r.aws.misses} cache misses | ${counts(r.aws.missCalls)} |`);
    for (const { mode, ttlMs, result } of r.aws.stale) {
      lines.push(
        `| AWS backend ${mode === 'refuse' ? 'refusing connections' : 'not answering'}, reads past a ${ttlMs} ms TTL | ` +
          `p50 ${ms(result.p50Ms)} ms, p99 ${ms(result.p99Ms)} ms, max ${ms(result.maxMs)} ms; ${whole(result.requestsPerSecond)} reads/s; ` +
          `status ${counts(result.statuses)}; X-Cache ${counts(result.xCache)}${result.errors ? `; ${result.errors} errors` : ''} |`,
      );
    }
  }
  const s = r.listAtScale;
  if (!('notMeasured' in s)) {
    const perSecret = (s.idleRssBytes - r.memory.idleRssBytes) / s.secrets;
    lines.push(
      `| lists at scale: store of ${whole(s.secrets)} secrets | seeded in ${s.seedSeconds.toFixed(1)} s; spawn to /readyz ${ms(s.readyMs)} ms; RSS idle ${mib(s.idleRssBytes)} (${whole(perSecret)} bytes per secret over the small store's idle RSS), under load ${mib(s.loadRssBytes)} |`,
      `| lists at scale: ${s.listers} lists, filter \`${s.filter}\` (no literal prefix), limit 100 | page p50 ${ms(s.listPages.p50Ms)} ms, p99 ${ms(s.listPages.p99Ms)} ms, max ${ms(s.listPages.maxMs)} ms; ${whole(s.listPages.requests)} pages, status ${counts(s.listPages.statuses)}; ${s.listings.count} whole listings, p50 ${ms(s.listings.p50Ms)} ms, max ${ms(s.listings.maxMs)} ms |`,
    );
  }
  if (!('notMeasured' in r.image)) lines.push(`| built image under \`--cpus 0.1\` | ${cell(r.image.output)} |`);
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
  const memory = Object.entries(p.runtimeMemory)
    .map(([name, bytes]) => `\`${name}\` ${mib(bytes)}`)
    .join(', ');
  return [
    '## Where the time and memory go',
    '',
    'One more broker, started with `--cpu-prof --heap-prof`, idle for a second, then loaded with cached GETs on',
    `its socket (${r.settings.connections} connections; ${whole(p.requestsPerSecond)} requests/s under the profiler). Self time is the`,
    "time a function was on top of the stack; a package's share sums its functions.",
    '',
    `### CPU under cached-GET load: ${ms(p.load.total)} ms of CPU in the measured ${r.settings.seconds} s`,
    '',
    entries(p.load, 'package', (x) => `${ms(x)} ms`),
    '',
    entries(p.load, 'function', (x) => `${ms(x)} ms`),
    '',
    `### CPU from spawn to /readyz 200 (${ms(p.readyMs)} ms under the profiler): ${ms(p.startup.total)} ms of CPU`,
    '',
    entries(p.startup, 'package', (x) => `${ms(x)} ms`),
    '',
    entries(p.startup, 'function', (x) => `${ms(x)} ms`),
    '',
    `### Memory: live JS objects at exit, sampled (${mib(p.heap.total)}), by allocating package and function`,
    '',
    memory === '' ? '' : `The broker's own figures after the load: ${memory}.\n`,
    entries(p.heap, 'package', mib),
    '',
    entries(p.heap, 'function', mib),
  ].join('\n');
}

function entries(slice: ProfileSlice, kind: 'package' | 'function', format: (x: number) => string): string {
  const list: ProfileEntry[] = kind === 'package' ? slice.packages : slice.functions;
  return [
    `| ${kind} | self | share |`,
    '|---|---:|---:|',
    ...list.map((e) => `| ${cell(e.name)} | ${format(e.amount)} | ${pct(e.share)} |`),
  ].join('\n');
}

/** Text safe inside a Markdown table cell. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function failures(x: LoadResult): string {
  return x.notOk > 0 || x.errors > 0 ? `; ${x.notOk} non-2xx (${counts(x.statuses)}), ${x.errors} errors` : '';
}
