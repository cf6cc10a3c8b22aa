/**
 * The CI checks of everything that reaches a cluster: the kustomize renders (top level, base, each
 * overlay) and the output of `inject` are valid for the pinned Kubernetes versions with unknown
 * fields refused, keep Fargate's rules, lock the containers down, and configure a broker that
 * really starts: each sidecar's environment plus its config file must pass the broker's own loader.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { loadConfig } from '../../agent/config/loader.js';
import { injectSidecar } from '../../agent/kube/inject.js';
import { fargateViolations } from './fargate-rules.js';
import {
  hasCommand,
  hasValidator,
  kustomize,
  type Manifest,
  ROOT,
  readManifests,
  requireTool,
  validateStrictly,
} from './kube-tools.js';

/** Where the rendered-files overlay and the `inject --render-dir` stream put the files. */
const FILES_DIR = '/run/secrets-files';

// biome-ignore lint/suspicious/noExplicitAny: assertions walk the manifests' nested data freely
type Data = Record<string, any>;

const RENDERED = [
  '.',
  'deploy/base',
  'deploy/overlays/aws',
  'deploy/overlays/vault',
  'deploy/overlays/aws-efs-locks',
  'deploy/overlays/aws-rendered-files',
];
const FIXTURE = readFileSync(path.join(ROOT, 'test/kube/fixtures/workloads.yaml'), 'utf8');
/**
 * What the broker's process holds outside V8's old space (code, new space, buffers, Node itself),
 * measured in the image: docs/kubernetes.md, "Sizing".
 */
const NON_HEAP_MIB = 64;

/** A Kubernetes memory quantity in MiB (the forms the manifests use: Mi, Gi, M). */
function mebibytes(quantity: string): number {
  const match = /^(\d+)(Mi|Gi|M)$/.exec(quantity);
  if (!match) throw new Error(`unexpected memory quantity ${quantity}`);
  const units: Record<string, number> = { Mi: 1, Gi: 1024, M: 1e6 / 2 ** 20 };
  return Number(match[1]) * (units[match[2] as string] as number);
}

function podSpecs(manifests: Manifest[] | Data[]): { where: string; spec: Data }[] {
  return (manifests as Data[]).flatMap((m) => {
    const where = `${m.kind}/${m.metadata?.name}`;
    if (m.kind === 'Pod') return [{ where, spec: m.spec }];
    if (m.kind === 'CronJob') return [{ where, spec: m.spec.jobTemplate.spec.template.spec }];
    if (['Deployment', 'StatefulSet', 'ReplicaSet', 'Job'].includes(m.kind))
      return [{ where, spec: m.spec.template.spec }];
    return [];
  });
}

function sidecarOf(spec: Data): Data {
  return spec.initContainers.find((c: Data) => c.name === 'secrets-broker');
}

/** The streams under test, rendered once: each kustomization, and `inject` with each backend. */
async function renderAll(): Promise<Record<string, string>> {
  const streams: Record<string, string> = {};
  for (const dir of RENDERED) streams[`kustomize ${dir}`] = await kustomize(dir);
  streams['inject (defaults)'] = await injectSidecar(FIXTURE);
  streams['inject --backend vault'] = await injectSidecar(FIXTURE, { backend: 'vault' });
  streams['inject --backend file --no-config-map'] = await injectSidecar(FIXTURE, { backend: 'file', configMap: null });
  streams['inject --render-dir /run/secrets-files'] = await injectSidecar(FIXTURE, { renderDir: FILES_DIR });
  return streams;
}

if (
  requireTool(t, 'kubectl', hasCommand('kubectl'), 'apt-get install -y kubectl') &&
  requireTool(t, 'kubernetes-validate', hasValidator(), 'bash scripts/python-venv.sh')
) {
  const streams = await renderAll();

  t.test('every render and every injected stream is valid for the pinned Kubernetes versions, strictly', async (t) => {
    // Act
    const complaints = await validateStrictly(streams);

    // Assess
    t.same(complaints, [], 'kubernetes-validate --strict found nothing');
  });

  t.test('every render and every injected stream keeps the Fargate rules', async (t) => {
    for (const [name, text] of Object.entries(streams)) {
      t.same(fargateViolations(readManifests(text)), [], name);
    }
  });

  t.test('`kubectl apply -k .` deploys exactly the AWS overlay', async (t) => {
    t.equal(streams['kustomize .'], streams['kustomize deploy/overlays/aws']);
  });

  t.test('each render runs the sidecar natively, locked down, with the socket shared with the app', async (t) => {
    for (const dir of RENDERED) {
      const specs = podSpecs(readManifests(streams[`kustomize ${dir}`] as string));
      t.ok(specs.length > 0, `${dir} has a workload`);
      for (const { where, spec } of specs) {
        const sidecar = sidecarOf(spec);
        t.equal(sidecar.restartPolicy, 'Always', `${dir} ${where}: native sidecar`);
        t.equal(
          sidecar.startupProbe.httpGet.port,
          'broker-health',
          `${dir} ${where}: startup probe on the health port`,
        );
        t.equal(spec.enableServiceLinks, false, `${dir} ${where}: no service links`);
        t.equal(spec.volumes.find((v: Data) => v.name === 'secrets-broker-socket').emptyDir.medium, 'Memory');
        for (const container of [...spec.initContainers, ...spec.containers]) {
          const name = `${dir} ${where} ${container.name}`;
          const sc = container.securityContext;
          t.ok(sc.runAsNonRoot ?? spec.securityContext?.runAsNonRoot, `${name}: runAsNonRoot`);
          t.ok(Number.isInteger(sc.runAsUser) && sc.runAsUser > 0, `${name}: numeric non-root user`);
          t.equal(sc.readOnlyRootFilesystem, true, `${name}: read-only root`);
          t.equal(sc.allowPrivilegeEscalation, false, `${name}: no privilege escalation`);
          t.same(sc.capabilities.drop, ['ALL'], `${name}: no capabilities`);
          t.equal(
            (sc.seccompProfile ?? spec.securityContext?.seccompProfile)?.type,
            'RuntimeDefault',
            `${name}: seccomp`,
          );
        }
        for (const app of spec.containers) {
          t.ok(
            app.volumeMounts.some((m: Data) => m.name === 'secrets-broker-socket'),
            `${where} ${app.name}: mount`,
          );
          t.ok(
            app.env.some((e: Data) => e.name === 'SECRETS_BROKER_SOCKET'),
            `${where} ${app.name}: env`,
          );
        }
      }
    }
  });

  t.test('every sidecar caps V8 below its memory limit and gives a stuck start a bounded window', async (t) => {
    for (const [stream, text] of Object.entries(streams)) {
      for (const { where, spec } of podSpecs(readManifests(text))) {
        const sidecar = sidecarOf(spec);
        const name = `${stream} ${where}`;
        // Prepare
        const options = sidecar.env.find((e: Data) => e.name === 'NODE_OPTIONS')?.value ?? '';
        const heapMib = Number(/--max-old-space-size=(\d+)/.exec(options)?.[1]);
        const limitMib = mebibytes(sidecar.resources.limits.memory);
        const probe = sidecar.startupProbe;
        // Assess
        t.ok(heapMib > 0, `${name}: NODE_OPTIONS caps the old space (${options})`);
        t.ok(
          heapMib + NON_HEAP_MIB <= limitMib,
          `${name}: old space ${heapMib} MiB + ${NON_HEAP_MIB} MiB outside it fits the ${limitMib} MiB limit`,
        );
        const windowSeconds = probe.periodSeconds * probe.failureThreshold;
        t.ok(
          windowSeconds >= 20 && windowSeconds <= 60,
          `${name}: the startup probe waits ${windowSeconds} s, several times a start at the CPU limit, under a minute`,
        );
      }
    }
  });

  t.test('the AWS renders give the pod an IRSA role; the Vault render a token for audience vault', async (t) => {
    for (const dir of ['deploy/overlays/aws', 'deploy/overlays/aws-efs-locks']) {
      const manifests = readManifests(streams[`kustomize ${dir}`] as string) as Data[];
      const account = manifests.find((m) => m.kind === 'ServiceAccount');
      t.match(account?.metadata.annotations['eks.amazonaws.com/role-arn'], /^arn:aws:iam::\d{12}:role\//, dir);
      t.equal(podSpecs(manifests)[0]?.spec.serviceAccountName, account?.metadata.name, `${dir}: the pod uses it`);
    }
    const vault = readManifests(streams['kustomize deploy/overlays/vault'] as string) as Data[];
    const { spec } = podSpecs(vault)[0] as { spec: Data };
    const token = spec.volumes.find((v: Data) => v.projected)?.projected.sources[0].serviceAccountToken;
    t.equal(token?.audience, 'vault');
    const env = Object.fromEntries(sidecarOf(spec).env.map((e: Data) => [e.name, e.value]));
    const mount = sidecarOf(spec).volumeMounts.find((m: Data) => m.name === 'vault-token');
    t.equal(env.SECRETS_BROKER_VAULT_JWT_FILE, `${mount.mountPath}/${token.path}`, 'the broker reads that token');
    t.notOk(vault.find((m) => m.kind === 'ServiceAccount')?.metadata.annotations, 'no IAM role needed');
  });

  t.test('the EFS render shares one lock directory on an EFS volume across the replicas', async (t) => {
    const manifests = readManifests(streams['kustomize deploy/overlays/aws-efs-locks'] as string) as Data[];
    const volume = manifests.find((m) => m.kind === 'PersistentVolume');
    t.equal(volume?.spec.csi.driver, 'efs.csi.aws.com');
    t.same(volume?.spec.accessModes, ['ReadWriteMany']);
    const { spec } = podSpecs(manifests)[0] as { spec: Data };
    const env = Object.fromEntries(sidecarOf(spec).env.map((e: Data) => [e.name, e.value]));
    const mount = sidecarOf(spec).volumeMounts.find((m: Data) => m.name === 'secrets-broker-locks');
    t.equal(env.SECRETS_BROKER_LOCK_DIR, mount.mountPath);
  });

  t.test(
    'the rendered-files render and inject give the sidecar the files volume, and the apps it read-only',
    async (t) => {
      for (const stream of ['kustomize deploy/overlays/aws-rendered-files', 'inject --render-dir /run/secrets-files']) {
        for (const { where, spec } of podSpecs(readManifests(streams[stream] as string))) {
          const name = `${stream} ${where}`;
          const volume = spec.volumes.find((v: Data) => v.name === 'secrets-files');
          t.equal(volume?.emptyDir?.medium, 'Memory', `${name}: the files are in memory`);
          const own = sidecarOf(spec).volumeMounts.find((m: Data) => m.name === 'secrets-files');
          t.same(own, { name: 'secrets-files', mountPath: FILES_DIR }, `${name}: the sidecar may write there`);
          for (const app of spec.containers) {
            const mount = app.volumeMounts.find((m: Data) => m.name === 'secrets-files');
            t.same(
              mount,
              { name: 'secrets-files', mountPath: FILES_DIR, readOnly: true },
              `${name} ${app.name}: read-only`,
            );
          }
        }
      }
      const manifests = readManifests(streams['kustomize deploy/overlays/aws-rendered-files'] as string) as Data[];
      const configMap = manifests.find((m) => m.kind === 'ConfigMap' && m.metadata.name.startsWith('secrets-broker-'));
      t.match(configMap?.data['config.yaml'], /path: \/run\/secrets-files\//, 'the example renders into the volume');
    },
  );

  t.test('each sidecar’s environment and config file pass the broker’s own config loader', async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kube-config-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    for (const source of RENDERED) {
      const manifests = readManifests(streams[`kustomize ${source}`] as string) as Data[];
      const configMap = manifests.find((m) => m.kind === 'ConfigMap' && m.metadata.name.startsWith('secrets-broker-'));
      const file = path.join(dir, 'config.yaml');
      writeFileSync(file, configMap?.data['config.yaml'] ?? '');
      for (const { where, spec } of podSpecs(manifests)) {
        const env: Record<string, string> = Object.fromEntries(sidecarOf(spec).env.map((e: Data) => [e.name, e.value]));
        t.equal(env.SECRETS_BROKER_CONFIG, '/etc/secrets-broker/config.yaml', `${source} ${where}: config file`);
        const loaded = loadConfig({ ...env, SECRETS_BROKER_CONFIG: file }, '/');
        t.same(loaded.warnings, [], `${source} ${where}: every SECRETS_BROKER_* name is known`);
        t.equal(loaded.config.socket.path, '/run/secrets-broker/broker.sock', `${source} ${where}: socket`);
        t.equal(loaded.config.health.port, 8081, `${source} ${where}: health listener on`);
        const mounts: Data[] = sidecarOf(spec).volumeMounts;
        for (const render of loaded.config.render) {
          const dir = path.dirname(render.path);
          t.ok(
            mounts.some((m) => m.mountPath === dir && !m.readOnly),
            `${source} ${where}: ${render.path} is in a volume the sidecar may write`,
          );
        }
      }
    }
  });
}
