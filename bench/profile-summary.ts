/**
 * Summaries of V8 profiles as Node writes them: `.cpuprofile` (sampled call tree, self time per
 * sample) and `.heapprofile` (sampling heap profiler: bytes of live objects per allocating frame).
 * Each becomes the top functions and the top packages by self time or by bytes.
 */
import path from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface CpuProfile {
  nodes: { id: number; callFrame: CallFrame; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

interface HeapNode {
  callFrame: CallFrame;
  selfSize: number;
  children: HeapNode[];
}

export interface ProfileEntry {
  name: string;
  /** Milliseconds of self time (CPU) or bytes (heap). */
  amount: number;
  /** Share of the slice's total, 0-1. */
  share: number;
}

export interface ProfileSlice {
  /** Milliseconds of samples that were not idle (CPU) or bytes sampled (heap). */
  total: number;
  /** The top functions. */
  functions: ProfileEntry[];
  /** Every package, largest first. */
  packages: ProfileEntry[];
}

const TOP = 12;

/**
 * Self time of the samples taken between `fromMs` and `toMs` after the profile began, by function
 * and by package. Idle samples are left out: what remains is the CPU the process used.
 */
export function sliceCpuProfile(profile: CpuProfile, fromMs: number, toMs: number): ProfileSlice {
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const owners = packageOwners(profile);
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  let atMs = 0;
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const deltaMs = (profile.timeDeltas[i] ?? 0) / 1000;
    atMs += deltaMs;
    if (atMs < fromMs || atMs > toMs) continue;
    const frame = frames.get(profile.samples[i] as number);
    if (!frame || frame.functionName === '(idle)') continue;
    total += deltaMs;
    const owner = owners.get(profile.samples[i] as number) ?? packageOf(frame);
    add(
      byFunction,
      isNativeBinding(frame) ? `${frame.functionName || '(anonymous)'} (native, from ${owner})` : functionLabel(frame),
      deltaMs,
    );
    add(byPackage, owner, deltaMs);
  }
  return { total, functions: top(byFunction, total), packages: top(byPackage, total, Number.POSITIVE_INFINITY) };
}

/**
 * The package each node's self time counts for: its own, or for a native binding (no URL: a
 * syscall, a hash, a string write) that of the nearest JavaScript caller, which is what asked for it.
 * V8's own entries (garbage collector, program) stay themselves.
 */
function packageOwners(profile: CpuProfile): Map<number, string> {
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const byId = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const owners = new Map<number, string>();
  for (const node of profile.nodes) {
    let id: number | undefined = node.id;
    let frame = node.callFrame;
    while (isNativeBinding(frame) && id !== undefined) {
      id = parents.get(id);
      const parent = id === undefined ? undefined : byId.get(id);
      if (!parent) break;
      frame = parent;
    }
    owners.set(node.id, packageOf(frame));
  }
  return owners;
}

/** Bytes of sampled live objects by allocating function and by package. */
export function heapSummary(profile: { head: HeapNode }): ProfileSlice {
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  let total = 0;
  const visit = (node: HeapNode) => {
    if (node.selfSize > 0) {
      total += node.selfSize;
      add(byFunction, functionLabel(node.callFrame), node.selfSize);
      add(byPackage, packageOf(node.callFrame), node.selfSize);
    }
    for (const child of node.children) visit(child);
  };
  visit(profile.head);
  return { total, functions: top(byFunction, total), packages: top(byPackage, total, Number.POSITIVE_INFINITY) };
}

/** A C++ function called from JavaScript (no script URL), as opposed to V8's own `(garbage collector)` etc. */
function isNativeBinding(frame: CallFrame): boolean {
  return frame.url === '' && !frame.functionName.startsWith('(');
}

function add(totals: Map<string, number>, key: string, amount: number): void {
  totals.set(key, (totals.get(key) ?? 0) + amount);
}

function top(totals: Map<string, number>, total: number, count = TOP): ProfileEntry[] {
  return [...totals.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, amount]) => ({ name, amount, share: total === 0 ? 0 : amount / total }));
}

/** `name (where:line)`; V8's own entries such as `(garbage collector)` stand as they are. */
function functionLabel(frame: CallFrame): string {
  if (frame.url === '') return frame.functionName || '(native)';
  return `${frame.functionName || '(anonymous)'} (${shortUrl(frame.url)}:${frame.lineNumber + 1})`;
}

/**
 * The package a frame belongs to: the npm package under the last `node_modules`, `node:<module>`
 * for Node's own code, `broker: <dir>` for the broker's, or V8's label for native work.
 */
export function packageOf(frame: CallFrame): string {
  const { url } = frame;
  if (url === '') return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
  if (url.startsWith('node:')) {
    const parts = url.slice('node:'.length).split('/');
    return `node:${parts[0] === 'internal' ? `internal/${parts[1] ?? ''}` : parts[0]}`.replace(/\.js$/, '');
  }
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const parts = url.slice(modules + '/node_modules/'.length).split('/');
    return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? url);
  }
  const agent = url.indexOf('/dist/agent/');
  if (agent >= 0) {
    const inside = url.slice(agent + '/dist/agent/'.length);
    return `broker: ${path.posix.dirname(inside) === '.' ? inside : path.posix.dirname(inside)}`;
  }
  return path.posix.basename(url);
}

function shortUrl(url: string): string {
  if (url.startsWith('node:')) return url;
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) return url.slice(modules + '/node_modules/'.length);
  const agent = url.indexOf('/dist/');
  return agent >= 0 ? url.slice(agent + 1) : path.posix.basename(url);
}
