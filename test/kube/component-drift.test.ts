/**
 * The sidecar has two definitions that users meet: the kustomize component (deploy/components/sidecar)
 * and `inject` (agent/kube/sidecar-spec.ts). These tests fail on any difference between them, so that
 * the two cannot drift apart.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { parse as parseYaml } from 'yaml';
import { injectSidecar } from '../../agent/kube/inject.js';
import { buildSidecarSpec, DEFAULT_CONFIG_MAP } from '../../agent/kube/sidecar-spec.js';
import { VERSION } from '../../agent/version.js';
import { hasCommand, kustomize, ROOT, readManifests, requireTool } from './kube-tools.js';

const COMPONENT = path.join(ROOT, 'deploy/components/sidecar');
const FIXTURE = path.join(ROOT, 'test/kube/fixtures/workloads.yaml');

t.test('the component’s sidecar.yaml is the sidecar `inject` builds by default', async (t) => {
  // Prepare
  const source = parseYaml(readFileSync(path.join(COMPONENT, 'sidecar.yaml'), 'utf8'));

  // Act
  const built = buildSidecarSpec({ image: `secrets-broker:${VERSION}`, configMap: DEFAULT_CONFIG_MAP });

  // Assess
  t.strictSame(source.spec.initContainers, [built.container], 'the container, field for field');
  t.strictSame(source.spec.volumes, built.volumes, 'the volumes');
  t.strictSame(source.spec.securityContext, { supplementalGroups: [built.sharedGroup] }, 'the shared group');
  t.equal(source.spec.enableServiceLinks, false);
});

t.test('the component renders every workload kind exactly as `inject` writes it', async (t) => {
  if (!requireTool(t, 'kubectl', hasCommand('kubectl'), 'apt-get install -y kubectl')) return;
  // Prepare: a user's kustomization with the fixture's workloads and the component
  const dir = mkdtempSync(path.join(tmpdir(), 'component-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'workloads.yaml'), readFileSync(FIXTURE));
  writeFileSync(path.join(dir, 'config.yaml'), 'backend: aws\naws: {region: eu-west-1}\n');
  writeFileSync(
    path.join(dir, 'kustomization.yaml'),
    [
      'resources: [workloads.yaml]',
      `components: [${path.relative(dir, COMPONENT)}]`,
      'configMapGenerator:',
      `  - {name: ${DEFAULT_CONFIG_MAP}, files: [config.yaml], options: {disableNameSuffixHash: true}}`,
      '',
    ].join('\n'),
  );

  // Act
  const rendered = readManifests(await kustomize(dir));
  const injected = readManifests(await injectSidecar(readFileSync(FIXTURE, 'utf8')));

  // Assess
  const key = (m: { kind: string; metadata?: { name?: string } }) => `${m.kind}/${m.metadata?.name}`;
  const renderedByKey = new Map(rendered.map((m) => [key(m), m]));
  for (const manifest of injected) {
    if (manifest.kind === 'ConfigMap') continue;
    t.strictSame(renderedByKey.get(key(manifest)), manifest, `${key(manifest)} is the same either way`);
  }
});

t.test('the rendered-files component renders every workload kind as `inject --render-dir` writes it', async (t) => {
  if (!requireTool(t, 'kubectl', hasCommand('kubectl'), 'apt-get install -y kubectl')) return;
  // Prepare: a user's kustomization with the fixture's workloads and both components
  const dir = mkdtempSync(path.join(tmpdir(), 'component-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'workloads.yaml'), readFileSync(FIXTURE));
  writeFileSync(path.join(dir, 'config.yaml'), 'backend: aws\naws: {region: eu-west-1}\n');
  const files = path.join(ROOT, 'deploy/components/rendered-files');
  writeFileSync(
    path.join(dir, 'kustomization.yaml'),
    [
      'resources: [workloads.yaml]',
      `components: [${path.relative(dir, COMPONENT)}, ${path.relative(dir, files)}]`,
      'configMapGenerator:',
      `  - {name: ${DEFAULT_CONFIG_MAP}, files: [config.yaml], options: {disableNameSuffixHash: true}}`,
      '',
    ].join('\n'),
  );

  // Act
  const rendered = readManifests(await kustomize(dir));
  const injected = readManifests(
    await injectSidecar(readFileSync(FIXTURE, 'utf8'), { renderDir: '/run/secrets-files' }),
  );

  // Assess
  const key = (m: { kind: string; metadata?: { name?: string } }) => `${m.kind}/${m.metadata?.name}`;
  const renderedByKey = new Map(rendered.map((m) => [key(m), m]));
  t.notOk(renderedByKey.has('Pod/secrets-broker-rendered-files'), 'the source Pod stays out of the output');
  for (const manifest of injected) {
    if (manifest.kind === 'ConfigMap') continue;
    t.strictSame(renderedByKey.get(key(manifest)), manifest, `${key(manifest)} is the same either way`);
  }
});
