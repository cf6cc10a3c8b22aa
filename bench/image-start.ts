/**
 * Spawn to ready of the built image under `--cpus 0.1`, from the project's own script
 * (scripts/image-start-time.sh builds the image and prints the figure). An image build takes
 * minutes, so this step runs only with BENCH_IMAGE=1, and only where the script and podman exist.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const IMAGE_SCRIPT = fileURLToPath(new URL('../../scripts/image-start-time.sh', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const IMAGE_TIMEOUT_MS = 20 * 60_000;

export type ImageStart = { readyMs: number; output: string } | { notMeasured: string };

/** Why the image cannot be measured in this run, or undefined when it can. */
export function imageStartSkipped(): string | undefined {
  if (process.env.BENCH_IMAGE !== '1') return 'skipped by default (an image build takes minutes): set BENCH_IMAGE=1';
  if (!existsSync(IMAGE_SCRIPT)) return 'scripts/image-start-time.sh does not exist yet';
  if (!onPath('podman')) return 'podman is not installed (scripts/install-container-tools.sh)';
  return undefined;
}

export async function measureImageStart(): Promise<ImageStart> {
  const skipped = imageStartSkipped();
  if (skipped) return { notMeasured: skipped };
  const { code, stdout, stderr } = await run('bash', [IMAGE_SCRIPT]);
  if (code !== 0) return { notMeasured: `scripts/image-start-time.sh exited with ${code}: ${lastLines(stderr)}` };
  // The figure is on stdout; the build's own log (with durations of its own) goes to stderr.
  const readyMs = lastDuration(stdout);
  if (readyMs === undefined) return { notMeasured: `no duration in the script's output: ${lastLines(stdout)}` };
  return { readyMs, output: lastLines(stdout) };
}

/**
 * The last duration the script printed, as `<number> ms` or `<number> s` (any text around it), in
 * milliseconds; a bare number on the last line counts as milliseconds.
 */
export function lastDuration(output: string): number | undefined {
  const matches = [...output.matchAll(/(\d+(?:\.\d+)?)\s*(ms|s)\b/g)];
  const last = matches[matches.length - 1];
  if (last) return Number(last[1]) * (last[2] === 's' ? 1000 : 1);
  const bare = /^\s*(\d+(?:\.\d+)?)\s*$/.exec(output.trim().split('\n').pop() ?? '');
  return bare ? Number(bare[1]) : undefined;
}

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => dir !== '' && existsSync(`${dir}/${command}`));
}

function lastLines(output: string): string {
  return output.trim().split('\n').slice(-3).join(' / ');
}

function run(command: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      command,
      args,
      { cwd: REPO_ROOT, timeout: IMAGE_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end();
  });
}
