import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { InjectError, injectSidecar } from '../../agent/kube/inject.js';
import { splitYamlStream } from '../../agent/kube/yaml-stream.js';
import { type Manifest, ROOT, readManifests } from './kube-tools.js';

const FIXTURE = readFileSync(path.join(ROOT, 'test/kube/fixtures/workloads.yaml'), 'utf8');
const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'ReplicaSet', 'Job', 'CronJob', 'Pod'];

// biome-ignore lint/suspicious/noExplicitAny: assertions walk the manifests' nested data freely
type Data = Record<string, any>;

function podSpec(manifest: Manifest | Data): Data {
  const m = manifest as Data;
  if (m.kind === 'Pod') return m.spec;
  if (m.kind === 'CronJob') return m.spec.jobTemplate.spec.template.spec;
  return m.spec.template.spec;
}

function byKind(manifests: Manifest[], kind: string): Manifest {
  const found = manifests.find((m) => m.kind === kind);
  if (!found) throw new Error(`no ${kind} in the output`);
  return found;
}

t.test(
  'adds the sidecar, its volumes, and the socket mount and env of every app container, to each kind',
  async (t) => {
    // Act
    const out = readManifests(await injectSidecar(FIXTURE, { image: 'secrets-broker:9.9.9' }));

    // Assess
    for (const kind of WORKLOAD_KINDS) {
      const spec = podSpec(byKind(out, kind));
      const sidecar = spec.initContainers[0];
      t.equal(sidecar.name, 'secrets-broker', `${kind}: the sidecar is the first init container`);
      t.equal(sidecar.restartPolicy, 'Always', `${kind}: a native sidecar`);
      t.equal(sidecar.image, 'secrets-broker:9.9.9', `${kind}: the image asked for`);
      t.same(
        sidecar.startupProbe.httpGet,
        { path: '/readyz', port: 'broker-health' },
        `${kind}: startup waits for ready`,
      );
      const socket = spec.volumes.find((v: Data) => v.name === 'secrets-broker-socket');
      t.equal(socket?.emptyDir?.medium, 'Memory', `${kind}: the socket volume is in memory`);
      t.equal(spec.enableServiceLinks, false, `${kind}: no service-link variables`);
      t.ok(spec.securityContext.supplementalGroups.includes(10001), `${kind}: app containers join the broker's group`);
      for (const container of spec.containers) {
        t.ok(
          container.volumeMounts.some(
            (m: Data) => m.name === 'secrets-broker-socket' && m.mountPath === '/run/secrets-broker',
          ),
          `${kind}/${container.name} mounts the socket volume`,
        );
        t.ok(
          container.env.some(
            (e: Data) => e.name === 'SECRETS_BROKER_SOCKET' && e.value === '/run/secrets-broker/broker.sock',
          ),
          `${kind}/${container.name} knows where the socket is`,
        );
      }
    }
  },
);

t.test('puts the sidecar before existing init containers and keeps the workload’s own fields', async (t) => {
  // Act
  const deployment = byKind(readManifests(await injectSidecar(FIXTURE)), 'Deployment') as Data;

  // Assess
  const spec = podSpec(deployment);
  t.same(
    spec.initContainers.map((c: Data) => c.name),
    ['secrets-broker', 'migrate'],
  );
  t.equal(deployment.spec.replicas, 2);
  t.equal(spec.serviceAccountName, 'web');
  t.same(spec.containers[0].env[0], { name: 'LOG_LEVEL', value: 'info' });
  t.same(spec.containers[0].volumeMounts[0], { name: 'cache', mountPath: '/var/cache/web' });
  t.ok(spec.volumes.some((v: Data) => v.name === 'cache'));
});

t.test('copies every other document, and the text between documents, byte for byte', async (t) => {
  // Prepare
  const before = splitYamlStream(FIXTURE);

  // Act
  const after = splitYamlStream(await injectSidecar(FIXTURE));

  // Assess
  t.equal(after.length, before.length, 'as many parts as before');
  before.forEach((part, i) => {
    const kind = part.kind === 'document' ? (part.value as Data | null)?.kind : undefined;
    if (WORKLOAD_KINDS.includes(kind)) return;
    t.equal(after[i]?.source, part.source, `part ${i} (${kind ?? part.kind}) unchanged`);
  });
});

t.test('injecting an injected stream again returns it unchanged', async (t) => {
  // Prepare
  const once = await injectSidecar(FIXTURE, { backend: 'vault' });

  // Act
  const twice = await injectSidecar(once, { backend: 'vault' });

  // Assess
  t.equal(twice, once);
});

t.test('returns a stream without workloads exactly as it came', async (t) => {
  // Prepare
  const text =
    '%YAML 1.2\n---\n# only config\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n...\n---\n---\nx: 1\r\n';

  // Act
  const out = await injectSidecar(text);

  // Assess
  t.equal(out, text);
});

t.test('replaces an earlier sidecar rather than adding a second one', async (t) => {
  // Prepare
  const first = await injectSidecar(FIXTURE, { image: 'secrets-broker:1.0.0', backend: 'vault' });

  // Act
  const second = readManifests(await injectSidecar(first, { image: 'secrets-broker:2.0.0', configMap: null }));

  // Assess
  for (const kind of WORKLOAD_KINDS) {
    const spec = podSpec(byKind(second, kind));
    const sidecars = spec.initContainers.filter((c: Data) => c.name === 'secrets-broker');
    t.equal(sidecars.length, 1, `${kind}: one sidecar`);
    t.equal(sidecars[0].image, 'secrets-broker:2.0.0', `${kind}: the new image`);
    t.same(
      spec.volumes.map((v: Data) => v.name).filter((n: string) => n.startsWith('secrets-broker')),
      ['secrets-broker-socket'],
      `${kind}: the Vault token and config volumes of the first run are gone`,
    );
  }
});

t.test('each backend option configures the sidecar for that backend', async (t) => {
  // Prepare
  const deployment = (options: Parameters<typeof injectSidecar>[1]) =>
    injectSidecar(FIXTURE, options).then((out) => podSpec(byKind(readManifests(out), 'Deployment')));
  const env = (spec: Data) => Object.fromEntries(spec.initContainers[0].env.map((e: Data) => [e.name, e.value]));

  // Act
  const byDefault = await deployment({});
  const file = await deployment({ backend: 'file', configMap: null });
  const vault = await deployment({ backend: 'vault', configMap: 'my-broker' });

  // Assess
  t.equal(env(byDefault).SECRETS_BROKER_CONFIG, '/etc/secrets-broker/config.yaml', 'config file by default');
  t.equal(env(byDefault).SECRETS_BROKER_BACKEND, undefined, 'the config file chooses the backend');
  t.same(byDefault.volumes.find((v: Data) => v.name === 'secrets-broker-config').configMap, {
    name: 'secrets-broker-config',
  });
  t.equal(env(file).SECRETS_BROKER_BACKEND, 'file');
  t.equal(env(file).SECRETS_BROKER_FILE_DIR, '/run/secrets-broker/store', 'the store is on a writable volume');
  t.equal(env(file).SECRETS_BROKER_CONFIG, undefined, 'no config file without a config map');
  t.equal(env(vault).SECRETS_BROKER_VAULT_JWT_FILE, '/var/run/secrets/vault/token');
  const token = vault.volumes.find((v: Data) => v.name === 'secrets-broker-vault-token');
  t.equal(token.projected.sources[0].serviceAccountToken.audience, 'vault', 'a token for Vault alone');
  t.same(vault.volumes.find((v: Data) => v.name === 'secrets-broker-config').configMap, { name: 'my-broker' });
});

t.test('keeps fields the Kubernetes client does not know rather than dropping them', async (t) => {
  // Prepare
  const text = `apiVersion: v1
kind: Pod
metadata: {name: future}
spec:
  futurePodField: {enabled: true}
  containers:
    - name: app
      image: app:1
      futureContainerField: 7
`;

  // Act
  const pod = readManifests(await injectSidecar(text))[0] as Data;

  // Assess
  t.same(pod.spec.futurePodField, { enabled: true });
  t.equal(pod.spec.containers[0].futureContainerField, 7);
  t.equal(pod.spec.initContainers[0].name, 'secrets-broker');
});

t.test('leaves look-alike kinds of other API groups alone', async (t) => {
  // Prepare
  const text = 'apiVersion: example.com/v1\nkind: Deployment\nmetadata: {name: custom}\nspec: {}\n';

  // Act
  const out = await injectSidecar(text);

  // Assess
  t.equal(out, text);
});

t.test('refuses invalid YAML, naming the document', async (t) => {
  // Prepare
  const text = 'apiVersion: v1\nkind: ConfigMap\n---\napiVersion: apps/v1\nkind: Deployment\nspec: [unclosed\n';

  // Act and Assess
  await t.rejects(injectSidecar(text), { name: 'InjectError', message: /document 2/ });
});

t.test('refuses a workload without a pod spec or with an app container named like the sidecar', async (t) => {
  // Prepare
  const noSpec = 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: partial}\nspec: {replicas: 3}\n';
  const clash =
    'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: secrets-broker, image: x}]\n';

  // Act and Assess
  await t.rejects(injectSidecar(noSpec), { message: /Deployment\/partial.*spec\.template\.spec/ });
  await t.rejects(injectSidecar(clash), { message: /already named secrets-broker/ });
});

t.test('refuses options that would make an invalid sidecar', async (t) => {
  // Act and Assess
  await t.rejects(injectSidecar(FIXTURE, { image: 'has space' }), InjectError);
  await t.rejects(injectSidecar(FIXTURE, { backend: 'gcp' as 'aws' }), { message: /file, aws, vault/ });
  await t.rejects(injectSidecar(FIXTURE, { configMap: 'Not_A_Name' }), { message: /DNS subdomain/ });
});

t.test('injects into the workloads of a List, as `kubectl get -o yaml` prints them, once', async (t) => {
  // Prepare
  const text = `apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Service
    metadata: {name: web}
    spec: {ports: [{port: 80}]}
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web, resourceVersion: "42"}
    spec:
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec:
          containers: [{name: web, image: web:1}]
    status: {replicas: 1}
`;

  // Act
  const once = await injectSidecar(text);
  const twice = await injectSidecar(once);

  // Assess
  const [list] = readManifests(once) as Data[];
  t.same(list?.items[0], {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web' },
    spec: { ports: [{ port: 80 }] },
  });
  t.equal(podSpec(list?.items[1]).initContainers[0].name, 'secrets-broker');
  t.same(list?.items[1].status, { replicas: 1 }, 'the rest of the item is kept');
  t.equal(twice, once, 'idempotent');
});
