/**
 * `inject --render-dir`: the in-memory volume for rendered files, writable by the sidecar and
 * read-only in every app container; refused where it would clash with the sidecar's own mounts, and
 * taken away again by an injection without it. (Strict validation of the output: manifests.test.ts.)
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { InjectError, injectSidecar } from '../../agent/kube/inject.js';
import { runInjectCommand } from '../../agent/kube/inject-command.js';
import { ROOT, readManifests } from './kube-tools.js';

const FIXTURE_FILE = path.join(ROOT, 'test/kube/fixtures/workloads.yaml');
const FIXTURE = readFileSync(FIXTURE_FILE, 'utf8');

// biome-ignore lint/suspicious/noExplicitAny: assertions walk the manifests' nested data freely
type Data = Record<string, any>;

function podSpecs(text: string): Data[] {
  return (readManifests(text) as Data[]).flatMap((m) => {
    if (m.kind === 'Pod') return [m.spec];
    if (m.kind === 'CronJob') return [m.spec.jobTemplate.spec.template.spec];
    return m.spec?.template?.spec ? [m.spec.template.spec] : [];
  });
}

function filesMounts(spec: Data): { sidecar: Data | undefined; apps: (Data | undefined)[] } {
  const find = (c: Data) => c.volumeMounts?.find((m: Data) => m.name === 'secrets-files');
  const sidecar = spec.initContainers.find((c: Data) => c.name === 'secrets-broker');
  return { sidecar: find(sidecar), apps: spec.containers.map(find) };
}

t.test('--render-dir adds an in-memory volume the sidecar writes and every app container reads only', async (t) => {
  // Act
  const out = await injectSidecar(FIXTURE, { renderDir: '/run/secrets-files' });

  // Assess
  const specs = podSpecs(out);
  t.ok(specs.length >= 6, 'every workload kind of the fixture');
  for (const spec of specs) {
    t.same(
      spec.volumes.find((v: Data) => v.name === 'secrets-files'),
      { name: 'secrets-files', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
    );
    const { sidecar, apps } = filesMounts(spec);
    t.same(sidecar, { name: 'secrets-files', mountPath: '/run/secrets-files' });
    for (const app of apps) t.same(app, { name: 'secrets-files', mountPath: '/run/secrets-files', readOnly: true });
  }
});

t.test('injecting again without --render-dir takes the volume and every mount of it away', async (t) => {
  // Prepare
  const withFiles = await injectSidecar(FIXTURE, { renderDir: '/run/secrets-files' });

  // Act
  const again = await injectSidecar(withFiles, {});
  const twice = await injectSidecar(withFiles, { renderDir: '/run/secrets-files' });

  // Assess
  for (const spec of podSpecs(again)) {
    t.notOk(
      spec.volumes.some((v: Data) => v.name === 'secrets-files'),
      'no volume',
    );
    const { sidecar, apps } = filesMounts(spec);
    t.same([sidecar, ...apps].filter(Boolean), [], 'no mount of it');
  }
  t.equal(twice, withFiles, 'the same option twice changes nothing');
});

t.test('--render-dir is refused where it is not an absolute directory or clashes with the sidecar', async (t) => {
  const cases: [string, RegExp][] = [
    ['run/files', /must be an absolute directory path/],
    ['/', /must be an absolute directory path/],
    ['/run/files/', /must be an absolute directory path/],
    ['/run/../etc', /must be an absolute directory path/],
    ['/run/secrets-broker', /overlaps the sidecar's \/run\/secrets-broker/],
    ['/etc', /overlaps the sidecar's \/etc\/secrets-broker/],
  ];
  for (const [renderDir, message] of cases) {
    await t.rejects(injectSidecar(FIXTURE, { renderDir }), { name: InjectError.name, message }, renderDir);
  }
});

t.test('an app container already using the directory for another volume is refused by name', async (t) => {
  // Prepare
  const pod = [
    'apiVersion: v1',
    'kind: Pod',
    'metadata: {name: p}',
    'spec:',
    '  containers:',
    '    - {name: app, image: app, volumeMounts: [{name: mine, mountPath: /run/secrets-files}]}',
    '  volumes: [{name: mine, emptyDir: {}}]',
    '',
  ].join('\n');

  // Act / Assess
  await t.rejects(injectSidecar(pod, { renderDir: '/run/secrets-files' }), {
    message:
      /container app already mounts volume mine at \/run\/secrets-files, where the broker's secrets-files volume goes/,
  });
});

t.test('`inject --render-dir DIR` on the command line; a bad DIR exits 2', async (t) => {
  // Prepare
  const run = async (argv: string[]) => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const chunks: string[] = [];
    const errors: string[] = [];
    stdout.on('data', (c) => chunks.push(String(c)));
    stderr.on('data', (c) => errors.push(String(c)));
    const code = await runInjectCommand(argv, { stdin: new PassThrough(), stdout, stderr });
    return { code, stdout: chunks.join(''), stderr: errors.join('') };
  };

  // Act
  const good = await run(['-f', FIXTURE_FILE, '--render-dir', '/run/secrets-files']);
  const bad = await run(['-f', FIXTURE_FILE, '--render-dir', 'relative']);

  // Assess
  t.equal(good.code, 0);
  t.equal(good.stdout, await injectSidecar(FIXTURE, { renderDir: '/run/secrets-files' }));
  t.equal(bad.code, 2);
  t.match(bad.stderr, /render dir must be an absolute directory path/);
  t.equal(bad.stdout, '');
});
