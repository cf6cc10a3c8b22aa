/**
 * The targets of the lean-sidecar work (and the list-at-scale bound of the hardening work), judged
 * against one run. Each is a bar that must be met and, for some, a goal beyond it; a ratio is
 * always against the bare Fastify baseline measured in the same run.
 */
import { type BenchResults, MIB, median, mib, ms, whole } from './report.js';

export interface TargetCheck {
  target: string;
  bar: string;
  goal: string;
  measured: string;
  /** undefined: not measured in this run (the reason is in `measured`). */
  met: boolean | undefined;
  goalMet?: boolean;
}

/** `met`, `met, goal too`, `not met` or `not measured`. */
export function verdict(t: TargetCheck): string {
  if (t.met === undefined) return 'not measured';
  if (!t.met) return '**not met**';
  return t.goalMet ? 'met (goal met too)' : 'met';
}

export function checkTargets(r: BenchResults): TargetCheck[] {
  return [
    ...(['socket', 'tcp'] as const).map((listener) => throughput(r, listener)),
    ...(['socket', 'tcp'] as const).map((listener) => tail(r, listener)),
    ...memory(r),
    start(r),
    image(r),
    ...stale(r),
    awsMiss(r),
    {
      target: `${r.coalescing.readers} concurrent cold reads of one id`,
      bar: '1 backend call',
      goal: '',
      measured: `${r.coalescing.backendCalls} backend call(s), statuses ${JSON.stringify(r.coalescing.statuses)}`,
      met: r.coalescing.backendCalls === 1,
    },
    listAtScale(r),
  ];
}

function throughput(r: BenchResults, listener: 'socket' | 'tcp'): TargetCheck {
  const pair = r.cachedGet[listener];
  return {
    target: `cached GET throughput, ${listener === 'tcp' ? 'TCP' : 'socket'}`,
    bar: '>= 0.5x bare',
    goal: '0.8x',
    measured:
      `${pair.ratio.toFixed(2)}x (${whole(pair.broker.requestsPerSecond)} vs ${whole(pair.bare.requestsPerSecond)}/s); ` +
      `CPU per read ${pair.brokerCpuMicrosPerRead.toFixed(1)} µs vs ${pair.bareCpuMicrosPerRead.toFixed(1)} µs`,
    met: pair.ratio >= 0.5,
    goalMet: pair.ratio >= 0.8,
  };
}

function tail(r: BenchResults, listener: 'socket' | 'tcp'): TargetCheck {
  const pair = r.cachedGet[listener];
  const ratio = pair.broker.p99Ms / pair.bare.p99Ms;
  return {
    target: `cached GET p99 at ${r.settings.connections} connections, ${listener === 'tcp' ? 'TCP' : 'socket'}`,
    bar: "<= 2x bare's p99",
    goal: '',
    measured: `${ms(pair.broker.p99Ms)} ms vs ${ms(pair.bare.p99Ms)} ms (${ratio.toFixed(2)}x)`,
    met: ratio <= 2,
  };
}

function memory(r: BenchResults): TargetCheck[] {
  const idleOver = r.memory.idleRssBytes - r.bare.idleRssBytes;
  const loadOver = r.memory.loadRssBytes - r.bare.loadRssBytes;
  return [
    {
      target: 'idle RSS',
      bar: 'bare + 8 MiB',
      goal: 'bare + 3 MiB',
      measured: `bare ${signed(idleOver)} (${mib(r.memory.idleRssBytes)} vs ${mib(r.bare.idleRssBytes)})`,
      met: idleOver <= 8 * MIB,
      goalMet: idleOver <= 3 * MIB,
    },
    {
      target: `RSS under ${r.settings.connections}-connection load`,
      bar: 'bare + 25 MiB',
      goal: '',
      measured: `bare ${signed(loadOver)} (${mib(r.memory.loadRssBytes)} vs ${mib(r.bare.loadRssBytes)})`,
      met: loadOver <= 25 * MIB,
    },
  ];
}

function start(r: BenchResults): TargetCheck {
  const bare = median(r.bare.startSamplesMs);
  const ratio = r.ready.medianMs / bare;
  return {
    target: 'spawn to /readyz 200',
    bar: "<= 1.5x bare's spawn to first answer",
    goal: '1.2x',
    measured: `${ratio.toFixed(2)}x (median ${ms(r.ready.medianMs)} ms vs ${ms(bare)} ms)`,
    met: ratio <= 1.5,
    goalMet: ratio <= 1.2,
  };
}

function image(r: BenchResults): TargetCheck {
  const row = { target: 'spawn to ready of the built image under `--cpus 0.1` (podman)', bar: '<= 3 s', goal: '1.5 s' };
  if ('notMeasured' in r.image) return { ...row, measured: r.image.notMeasured, met: undefined };
  const readyMs = r.image.medianReadyAfterStartMs;
  return {
    ...row,
    measured: `${(readyMs / 1000).toFixed(2)} s (median of ${r.image.runs}, from the container's start)`,
    met: readyMs <= 3000,
    goalMet: readyMs <= 1500,
  };
}

function stale(r: BenchResults): TargetCheck[] {
  const how = { reset: 'resetting connections', hang: 'not answering' };
  const bar = 'p99 <= 20 ms, every one 200';
  if (r.aws.notMeasured !== undefined) {
    return [
      { target: 'stale reads while the backend is down', bar, goal: '', measured: r.aws.notMeasured, met: undefined },
    ];
  }
  return r.aws.stale.map(({ mode, result }) => {
    const all200 = result.errors === 0 && (result.statuses['200'] ?? 0) === result.requests && result.requests > 0;
    return {
      target: `stale reads past TTL, AWS backend ${how[mode as 'reset' | 'hang']}`,
      bar,
      goal: '',
      measured:
        `p99 ${ms(result.p99Ms)} ms (max ${ms(result.maxMs)}), ${whole(result.requests)} reads, ` +
        `statuses ${JSON.stringify(result.statuses)}${result.errors > 0 ? `, ${result.errors} errors` : ''}`,
      met: all200 && result.p99Ms <= 20,
    };
  });
}

function awsMiss(r: BenchResults): TargetCheck {
  const row = { target: 'backend calls per AWS cache miss', bar: '1', goal: '' };
  if (r.aws.notMeasured !== undefined) return { ...row, measured: r.aws.notMeasured, met: undefined };
  const calls = Object.entries(r.aws.missCalls)
    .map(([operation, n]) => `${operation} ${n}`)
    .join(', ');
  return {
    ...row,
    measured: `${r.aws.callsPerMiss.toFixed(2)} (${r.aws.misses} misses: ${calls})`,
    met: Math.abs(r.aws.callsPerMiss - 1) < 1e-9,
  };
}

function listAtScale(r: BenchResults): TargetCheck {
  const s = r.listAtScale;
  const row = { bar: 'cached GET p99 < 50 ms', goal: '' };
  if ('notMeasured' in s)
    return { ...row, target: 'cached GET while lists run at scale', measured: s.notMeasured, met: undefined };
  return {
    ...row,
    target: `cached GET with ${whole(s.secrets)} secrets (file) and ${s.listers} unanchored lists running`,
    measured:
      `p99 ${ms(s.cachedGet.p99Ms)} ms (${s.getReaders} readers); ` +
      `list page p99 ${s.listPages.requests > 0 ? `${ms(s.listPages.p99Ms)} ms` : 'over 30 s (none answered)'}; RSS ${mib(s.loadRssBytes)}`,
    met:
      s.cachedGet.p99Ms < 50 && s.cachedGet.errors === 0 && (s.cachedGet.statuses['200'] ?? 0) === s.cachedGet.requests,
  };
}

function signed(bytes: number): string {
  return `${bytes >= 0 ? '+' : '-'} ${mib(Math.abs(bytes))}`;
}
