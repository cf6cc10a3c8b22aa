/**
 * Spawn to ready of the built image under `--cpus 0.1`, from the project's own script:
 * scripts/image-start-time.sh builds the image, starts it a few times under podman and prints, with
 * `--json`, the median time from the container's start to /readyz 200. An image build takes
 * minutes, so this step runs only with BENCH_IMAGE=1, and only where the script and podman exist.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const IMAGE_SCRIPT = fileURLToPath(new URL('../../scripts/image-start-time.sh', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const IMAGE_TIMEOUT_MS = 20 * 60_000;

/** What the script's `--json` prints (the fields the page shows). */
export interface ImageFigures {
  cpus: number;
  runs: number;
  readyAfterStartMs: number[];
  medianReadyAfterStartMs: number;
  medianReadyAfterPodmanRunMs: number;
  medianCpuToReadyMs: number | null;
  imageBytes: number;
  idleRssKiB: number;
}

export type ImageStart = ImageFigures | { notMeasured: string };

/** Why the image cannot be measured in this run, or undefined when it can. */
export function imageStartSkipped(): string | undefined {
  if (process.env.BENCH_IMAGE !== '1') return 'skipped by default (an image build takes minutes): set BENCH_IMAGE=1';
  if (!existsSync(IMAGE_SCRIPT)) return 'scripts/image-start-time.sh is not in this tree';
  if (!onPath('podman')) return 'podman is not installed (scripts/install-container-tools.sh)';
  return undefined;
}

export async function measureImageStart(): Promise<ImageStart> {
  const skipped = imageStartSkipped();
  if (skipped) return { notMeasured: skipped };
  const { code, stdout, stderr } = await run('bash', [IMAGE_SCRIPT, '--json']);
  if (code !== 0) return { notMeasured: `scripts/image-start-time.sh exited with ${code}: ${lastLines(stderr)}` };
  // The JSON object is the last line of stdout; anything before it is the build's own output.
  const last = stdout.trim().split('\n').pop() ?? '';
  try {
    const figures = JSON.parse(last) as ImageFigures;
    if (typeof figures.medianReadyAfterStartMs !== 'number') throw new Error('no medianReadyAfterStartMs');
    return figures;
  } catch (err) {
    return { notMeasured: `unreadable output of scripts/image-start-time.sh (${(err as Error).message}): ${last}` };
  }
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
