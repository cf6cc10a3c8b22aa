/**
 * What the Kubernetes checks share: rendering with `kubectl kustomize`, strict schema validation
 * with `kubernetes-validate` (from the test virtualenv, its schemas bundled, so no network), and
 * reading multi-document YAML. Every check runs offline.
 *
 * A missing tool fails the test under CI (CI=true) and is skipped, with the reason, elsewhere.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Test } from 'tap';
import { parseAllDocuments } from 'yaml';

const run = promisify(execFile);

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const VALIDATOR = path.join(ROOT, '.venv/bin/kubernetes-validate');
/**
 * The oldest Kubernetes version whose API has native sidecars on by default (1.29), and the one
 * `@kubernetes/client-node` 2.0 models (1.35): every manifest must be valid in both.
 */
export const KUBERNETES_VERSIONS = ['1.29.0', '1.35.0'] as const;

/** A Kubernetes object as plain data. */
export type Manifest = Record<string, unknown> & { apiVersion: string; kind: string; metadata?: { name?: string } };

/**
 * True when `tool` can be used; otherwise fails the test under CI, or records a skip elsewhere.
 * @example if (!requireTool(t, 'kubectl', hasCommand('kubectl'), 'apt-get install -y kubectl')) return;
 */
export function requireTool(t: Test, tool: string, available: boolean, install: string): boolean {
  if (available) return true;
  const reason = `${tool} is not available (${install})`;
  if (process.env.CI === 'true') t.fail(`${reason}: CI must have it`);
  else t.skip(reason, () => {});
  return false;
}

export function hasCommand(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Makes the test virtualenv if it is missing (idempotent), then tells whether the validator is there. */
export function hasValidator(): boolean {
  if (!existsSync(VALIDATOR)) {
    try {
      execFileSync('bash', [path.join(ROOT, 'scripts/python-venv.sh')], { stdio: 'ignore', timeout: 300_000 });
    } catch {
      return false;
    }
  }
  return existsSync(VALIDATOR);
}

/** `kubectl kustomize DIR` (relative to the repository root). */
export async function kustomize(dir: string): Promise<string> {
  const { stdout } = await run('kubectl', ['kustomize', path.resolve(ROOT, dir)], {
    timeout: 60_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}

/** The non-empty documents of a YAML stream, as plain data. */
export function readManifests(text: string): Manifest[] {
  return parseAllDocuments(text, { merge: true })
    .map((doc) => {
      if (doc.errors[0]) throw doc.errors[0];
      return doc.toJS() as Manifest | null;
    })
    .filter((m): m is Manifest => m !== null);
}

/**
 * Validates every named stream strictly (unknown fields fail) against each pinned Kubernetes version.
 * Returns the validator's complaints: errors, and warnings such as a kind it has no schema for.
 */
export async function validateStrictly(streams: Record<string, string>): Promise<string[]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'kube-validate-'));
  try {
    const files = Object.entries(streams).map(([name, text]) => {
      const file = path.join(dir, `${name.replace(/[^A-Za-z0-9_.-]/g, '_')}.yaml`);
      writeFileSync(file, text);
      return file;
    });
    const complaints: string[] = [];
    for (const version of KUBERNETES_VERSIONS) {
      const args = ['--strict', '--quiet', '--kubernetes-version', version, ...files];
      const { ok, output } = await run(VALIDATOR, args, { timeout: 120_000 }).then(
        ({ stdout, stderr }) => ({ ok: true, output: stdout + stderr }),
        (err: { stdout?: string; stderr?: string; message: string }) => ({
          ok: false,
          output: `${err.stdout ?? ''}${err.stderr ?? err.message}`,
        }),
      );
      const lines = output.split('\n').filter((line) => /^(ERROR|WARN)/.test(line));
      complaints.push(...lines);
      // A crash or a refused argument prints no ERROR line, and must not pass for a clean run.
      if (!ok && lines.length === 0) complaints.push(`kubernetes-validate ${version} failed: ${output.trim()}`);
    }
    return complaints;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
