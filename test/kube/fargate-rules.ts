/**
 * The rules EKS Fargate imposes on what it will schedule, checked on rendered manifests. Fargate
 * runs each pod in its own micro-VM: no DaemonSets, no host namespaces, ports or paths, no
 * privileged containers, only EFS (through a PersistentVolume) among the CSI drivers, and a pod
 * size taken from its requests, which is why every container here must have requests equal to
 * limits. Written independently of agent/kube, so that it checks `inject` rather than repeats it.
 */
import type { Manifest } from './kube-tools.js';

const POD_SPEC_PATHS: Record<string, string[]> = {
  Deployment: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
  Pod: ['spec'],
};

/** Volume types a Fargate pod may use. */
const ALLOWED_VOLUMES = new Set([
  'emptyDir',
  'configMap',
  'secret',
  'projected',
  'downwardAPI',
  'persistentVolumeClaim',
]);
const EFS_DRIVER = 'efs.csi.aws.com';
/** The one capability Fargate lets a container add. */
const ADDABLE_CAPABILITIES = new Set(['SYS_PTRACE']);

type Data = Record<string, unknown>;

/** Every Fargate rule the manifests break, one message each; empty when they all hold. */
export function fargateViolations(manifests: Manifest[]): string[] {
  const problems: string[] = [];
  const efsVolumes = new Set(
    manifests.filter((m) => m.kind === 'PersistentVolume' && isEfs(m)).map((m) => m.metadata?.name),
  );
  const efsClaims = new Set(
    manifests
      .filter((m) => m.kind === 'PersistentVolumeClaim' && efsVolumes.has(get(m, ['spec', 'volumeName']) as string))
      .map((m) => m.metadata?.name),
  );
  for (const manifest of manifests) {
    const where = `${manifest.kind}/${manifest.metadata?.name ?? '?'}`;
    if (manifest.kind === 'DaemonSet') problems.push(`${where}: Fargate runs no DaemonSets`);
    if (manifest.kind === 'PersistentVolume' && !isEfs(manifest)) {
      problems.push(`${where}: the only volume source Fargate mounts is EFS (${EFS_DRIVER})`);
    }
    const path = POD_SPEC_PATHS[manifest.kind];
    const spec = path ? get(manifest, path) : undefined;
    if (isData(spec)) problems.push(...podViolations(spec, where, efsClaims));
  }
  return problems;
}

function podViolations(spec: Data, where: string, efsClaims: Set<string | undefined>): string[] {
  const problems: string[] = [];
  for (const field of ['hostNetwork', 'hostPID', 'hostIPC']) {
    if (spec[field] === true) problems.push(`${where}: ${field} is not supported on Fargate`);
  }
  for (const volume of list(spec.volumes)) {
    const type = Object.keys(volume).find((key) => key !== 'name') ?? '?';
    if (!ALLOWED_VOLUMES.has(type)) problems.push(`${where}: volume ${volume.name} is ${type}, not allowed on Fargate`);
    const claim = get(volume, ['persistentVolumeClaim', 'claimName']);
    if (type === 'persistentVolumeClaim' && !efsClaims.has(claim as string)) {
      problems.push(`${where}: claim ${claim} is not bound to an EFS PersistentVolume in these manifests`);
    }
  }
  const containers = [...list(spec.initContainers), ...list(spec.containers), ...list(spec.ephemeralContainers)];
  for (const container of containers) problems.push(...containerViolations(container, `${where} ${container.name}`));
  return problems;
}

function containerViolations(container: Data, where: string): string[] {
  const problems: string[] = [];
  if (get(container, ['securityContext', 'privileged']) === true) problems.push(`${where}: privileged`);
  const added = get(container, ['securityContext', 'capabilities', 'add']);
  for (const cap of Array.isArray(added) ? added : [])
    if (!ADDABLE_CAPABILITIES.has(cap)) problems.push(`${where}: adds capability ${cap}`);
  for (const port of list(container.ports)) {
    if (port.hostPort !== undefined) problems.push(`${where}: hostPort ${port.hostPort}`);
  }
  const requests = get(container, ['resources', 'requests']);
  const limits = get(container, ['resources', 'limits']);
  for (const resource of ['cpu', 'memory']) {
    const request = isData(requests) ? requests[resource] : undefined;
    const limit = isData(limits) ? limits[resource] : undefined;
    if (request === undefined || limit === undefined) {
      problems.push(`${where}: ${resource} needs both a request and a limit`);
    } else if (String(request) !== String(limit)) {
      problems.push(`${where}: ${resource} request ${request} differs from its limit ${limit}`);
    }
  }
  return problems;
}

function isEfs(manifest: Manifest): boolean {
  return get(manifest, ['spec', 'csi', 'driver']) === EFS_DRIVER;
}

function get(value: unknown, path: string[]): unknown {
  let node = value;
  for (const key of path) node = isData(node) ? node[key] : undefined;
  return node;
}

function list(value: unknown): Data[] {
  return Array.isArray(value) ? (value.filter(isData) as Data[]) : [];
}

function isData(value: unknown): value is Data {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
