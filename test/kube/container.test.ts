/**
 * The image, built from the real Dockerfile with podman and run as the sidecar runs: non-root,
 * read-only root filesystem, a CRUD session over the socket in a mounted volume, exit 0 on SIGTERM.
 * The work is in scripts/container-test.sh; each of its "ok"/"not ok" lines becomes an assertion.
 *
 * Without podman (or root) the test is skipped with the reason, except under CI, where it fails.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import t from 'tap';
import { hasCommand, ROOT, requireTool } from './kube-tools.js';

const SCRIPT = path.join(ROOT, 'scripts/container-test.sh');
/** A cold machine assembles the base image and runs `npm ci` inside the build: minutes, not seconds. */
const BUDGET_MS = 20 * 60_000;

t.setTimeout(BUDGET_MS + 60_000);

const ready =
  requireTool(t, 'podman', hasCommand('podman') && hasCommand('runc'), 'bash scripts/install-container-tools.sh') &&
  requireTool(t, 'root', process.getuid?.() === 0, 'rootful podman builds and runs the image');

if (ready) {
  t.test('the image builds from the Dockerfile and serves a CRUD session as a locked-down container', async (t) => {
    // Act
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
      (resolve) => {
        const child = spawn('bash', [SCRIPT], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], timeout: BUDGET_MS });
        let out = '';
        let err = '';
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString('utf8');
        });
        child.stderr.on('data', (chunk: Buffer) => {
          err += chunk.toString('utf8');
        });
        child.on('close', (exitCode) => resolve({ code: exitCode, stdout: out, stderr: err }));
      },
    );

    // Assess
    for (const line of stdout.split('\n')) if (line.startsWith('ok - ')) t.pass(line.slice(5));
    t.equal(code, 0, 'scripts/container-test.sh exits 0', { stderr: stderr.split('\n').slice(-40).join('\n') });
    t.match(stdout, /^container test: ok$/m, 'and finishes every step');
  });
}
