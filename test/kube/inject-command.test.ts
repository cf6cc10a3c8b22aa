import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { promisify } from 'node:util';
import t from 'tap';
import { runInjectCommand } from '../../agent/kube/inject-command.js';
import { ROOT, readManifests } from './kube-tools.js';

const FIXTURE = path.join(ROOT, 'test/kube/fixtures/workloads.yaml');
const MAIN = path.join(ROOT, 'dist/agent/main.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function collector(): Writable & { text(): string } {
  let text = '';
  const sink = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  return Object.assign(sink, { text: () => text });
}

async function inject(argv: string[], stdinText = ''): Promise<Run> {
  const stdin = new PassThrough();
  stdin.end(stdinText);
  const stdout = collector();
  const stderr = collector();
  const code = await runInjectCommand(argv, { stdin, stdout, stderr });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

function sidecarImages(yamlText: string): string[] {
  type Workload = { spec: { template: { spec: { initContainers: { image: string }[] } } } };
  return readManifests(yamlText)
    .filter((m) => m.kind === 'Deployment')
    .map((m) => (m as unknown as Workload).spec.template.spec.initContainers[0]?.image ?? 'none');
}

t.test('reads the file named by -f and writes the injected manifests to stdout', async (t) => {
  // Act
  const run = await inject(['-f', FIXTURE, '--image', 'secrets-broker:7.7.7', '--backend', 'aws']);

  // Assess
  t.equal(run.code, 0);
  t.equal(run.stderr, '');
  t.same(sidecarImages(run.stdout), ['secrets-broker:7.7.7']);
});

t.test('reads stdin when -f is "-" or absent', async (t) => {
  // Prepare
  const text = readFileSync(FIXTURE, 'utf8');

  // Act
  const dash = await inject(['-f', '-'], text);
  const absent = await inject([], text);

  // Assess
  t.equal(dash.code, 0);
  t.equal(absent.code, 0);
  t.equal(dash.stdout, absent.stdout);
  t.equal(sidecarImages(dash.stdout).length, 1);
});

t.test('prints its help with --help', async (t) => {
  // Act
  const run = await inject(['--help']);

  // Assess
  t.equal(run.code, 0);
  t.match(run.stdout, /Usage: secrets-broker inject/);
  t.match(run.stdout, /--config-map NAME/);
});

t.test('exits 2 naming the document, line and column, and writes nothing to stdout, for invalid YAML', async (t) => {
  // Act
  const run = await inject([], 'kind: Pod\n---\nspec: {containers: [\n');

  // Assess
  t.equal(run.code, 2);
  t.equal(run.stdout, '', 'nothing that kubectl could apply');
  t.match(run.stderr, /^secrets-broker inject: stdin: invalid YAML in document 2: .* at line \d+, column \d+\n$/);
  t.notMatch(run.stderr, /:\n$/, 'the sentence does not end on the colon that introduced the source excerpt');
});

t.test('exits 2 with one line naming the option for unknown or contradictory options', async (t) => {
  // Act
  const unknown = await inject(['--sidecar-image', 'x']);
  const noValue = await inject(['--image']);
  const backend = await inject(['--backend', 'gcp']);
  const both = await inject(['--config-map', 'a', '--no-config-map']);
  const stray = await inject(['app.yaml']);

  // Assess
  for (const run of [unknown, noValue, backend, both, stray]) {
    t.equal(run.code, 2);
    t.equal(run.stdout, '');
    t.equal(run.stderr.split('\n').length, 2, `one line: ${run.stderr}`);
  }
  t.equal(
    unknown.stderr,
    "secrets-broker inject: unknown option '--sidecar-image'; see 'secrets-broker inject --help'\n",
  );
  t.match(noValue.stderr, /option --image needs a value/);
  t.match(backend.stderr, /--backend must be one of file, aws, vault, not 'gcp'/);
  t.match(both.stderr, /exclude each other/);
  t.match(stray.stderr, /unexpected argument 'app\.yaml': name the input file with -f FILE/);
});

t.test('exits 2 for an option value the sidecar cannot take', async (t) => {
  // Act
  const run = await inject(['-f', FIXTURE, '--config-map', 'Upper_Case']);

  // Assess
  t.equal(run.code, 2);
  t.match(run.stderr, /workloads\.yaml: config map name must be a lowercase DNS subdomain name/);
});

t.test('exits 2 naming the file and -f when the input file does not exist or is a directory', async (t) => {
  // Prepare
  const dir = mkdtempSync(path.join(tmpdir(), 'inject-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const missing = path.join(dir, 'missing.yaml');

  // Act
  const absent = await inject(['-f', missing]);
  const directory = await inject(['-f', dir]);

  // Assess
  t.equal(absent.code, 2);
  t.equal(absent.stderr, `secrets-broker inject: cannot read ${missing} (-f): it does not exist\n`);
  t.equal(directory.code, 2);
  t.equal(directory.stderr, `secrets-broker inject: cannot read ${dir} (-f): it is a directory\n`);
});

// Under CI the build comes first, so a missing dist/ is a failure there, not a skip.
const notBuilt = !existsSync(MAIN) && process.env.CI !== 'true' && 'dist/ is missing: run npm run build first';

t.test('`secrets-broker inject` runs through the built CLI', { skip: notBuilt }, async (t) => {
  // Prepare
  const dir = mkdtempSync(path.join(tmpdir(), 'inject-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'app.yaml');
  writeFileSync(file, readFileSync(FIXTURE));

  // Act
  const { stdout } = await promisify(execFile)(process.execPath, [MAIN, 'inject', '-f', file, '--backend', 'aws'], {
    timeout: 60_000,
  });

  // Assess
  t.equal(sidecarImages(stdout).length, 1);
});

t.test(
  'the built CLI exits 2 with one line for a missing -f file and for an unknown option',
  { skip: notBuilt },
  async (t) => {
    // Prepare
    const dir = mkdtempSync(path.join(tmpdir(), 'inject-cli-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const run = (args: string[]) =>
      promisify(execFile)(process.execPath, [MAIN, 'inject', ...args], { cwd: dir, timeout: 60_000 }).then(
        () => ({ code: 0, stderr: '' }),
        (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
      );

    // Act
    const missing = await run(['-f', 'missing.yaml']);
    const bogus = await run(['--bogus']);

    // Assess
    t.same(missing, { code: 2, stderr: 'secrets-broker inject: cannot read missing.yaml (-f): it does not exist\n' });
    t.same(bogus, {
      code: 2,
      stderr: "secrets-broker inject: unknown option '--bogus'; see 'secrets-broker inject --help'\n",
    });
  },
);

/** The modules `from` imports at load time: `import type` and `await import()` load nothing then. */
function staticImports(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const match of source.matchAll(/^\s*(?:import|export)\s+(type\s+)?(?:[\s\S]*?\s+from\s+)?['"]([^'"]+)['"]/gm)) {
    if (!match[1]) found.push(match[2] as string);
  }
  return found;
}

t.test('the serve path never loads the Kubernetes client at start', async (t) => {
  // Prepare
  const seen = new Set<string>();
  const offenders: string[] = [];
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const specifier of staticImports(file)) {
      if (specifier.startsWith('@kubernetes/client-node')) offenders.push(path.relative(ROOT, file));
      if (specifier.startsWith('.')) visit(path.resolve(path.dirname(file), specifier.replace(/\.js$/, '.ts')));
    }
  };

  // Act: main.ts, and serve.ts, which main.ts loads for `serve`
  visit(path.join(ROOT, 'agent/main.ts'));
  visit(path.join(ROOT, 'agent/serve.ts'));

  // Assess
  t.ok(seen.size > 20, `walked ${seen.size} modules of the serve path`);
  t.same(offenders, [], 'no module of the serve path imports @kubernetes/client-node');
});
