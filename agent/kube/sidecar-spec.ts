/**
 * The broker sidecar as Kubernetes objects, for `inject`. The kustomize component defines the same
 * sidecar in deploy/components/sidecar/sidecar.yaml; test/kube/component-drift.test.ts renders both
 * and fails on any difference, so change them together.
 *
 * Only types come from `@kubernetes/client-node` here: `import type` is erased, so nothing heavy
 * loads with this module.
 */
import type { V1Container, V1EnvVar, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { BACKENDS, type BackendName, backendNamed } from '../backends/registry.js';

export type SidecarBackend = BackendName;

export const SIDECAR_NAME = 'secrets-broker';
export const SOCKET_VOLUME = 'secrets-broker-socket';
export const SOCKET_DIR = '/run/secrets-broker';
export const SOCKET_PATH = `${SOCKET_DIR}/broker.sock`;
export const SOCKET_ENV = 'SECRETS_BROKER_SOCKET';
export const CONFIG_VOLUME = 'secrets-broker-config';
export const CONFIG_DIR = '/etc/secrets-broker';
export const DEFAULT_CONFIG_MAP = 'secrets-broker-config';
/** The in-memory volume rendered files go to (docs/rendered-files.md). */
export const FILES_VOLUME = 'secrets-files';
/** The image's numeric user and group (Dockerfile `USER 10001:10001`). */
export const BROKER_UID = 10001;
export const HEALTH_PORT = 8081;
/** Requests and limits alike; see docs/kubernetes.md, "Sizing". */
const RESOURCES = { cpu: '100m', memory: '160Mi' };
/** V8's old space, kept below the memory limit: about 64 MiB of the process lives outside it. */
const HEAP_MIB = 64;
/**
 * V8's young generation grows up to 16 MiB per semi-space under a burst of requests and rarely
 * shrinks back; 4 MiB keeps the peak of a 32-connection load about 20 MiB lower at no measurable
 * cost per request (docs/performance.md).
 */
const SEMI_SPACE_MIB = 4;

/** Every volume the sidecar may add: a new definition removes those of an earlier one it no longer needs. */
export const SIDECAR_VOLUME_NAMES: readonly string[] = [
  SOCKET_VOLUME,
  CONFIG_VOLUME,
  FILES_VOLUME,
  ...BACKENDS.flatMap((backend) => backend.sidecarNeeds?.(SOCKET_DIR).volumes.map((volume) => volume.name) ?? []),
];

/** What the chosen backend's registry entry asks of the sidecar (no backend named: nothing). */
function backendNeeds(backend: SidecarBackend | undefined) {
  const needs = backend ? backendNamed(backend).sidecarNeeds?.(SOCKET_DIR) : undefined;
  return needs ?? { env: [], volumes: [] };
}

export interface SidecarOptions {
  image: string;
  /** Sets SECRETS_BROKER_BACKEND, which overrides the config file's `backend`. */
  backend?: SidecarBackend;
  /** ConfigMap whose `config.yaml` becomes the broker's config file; none means environment only. */
  configMap?: string;
  /** Where rendered files go: an in-memory volume, writable by the sidecar, read-only in the apps. */
  renderDir?: string;
}

/** What the sidecar adds to a pod. */
export interface SidecarSpec {
  container: V1Container;
  volumes: V1Volume[];
  /** Mounted into every app container: the socket's volume, then the rendered files' if any. */
  appMounts: V1VolumeMount[];
  /** Set in every app container. */
  appEnv: V1EnvVar;
  /** Pod-level supplemental group that lets app containers use the socket and read the token. */
  sharedGroup: number;
}

/** Builds the sidecar for the given options. */
export function buildSidecarSpec(options: SidecarOptions): SidecarSpec {
  const socketMount: V1VolumeMount = { name: SOCKET_VOLUME, mountPath: SOCKET_DIR };
  const appMounts = [socketMount];
  if (options.renderDir) appMounts.push({ name: FILES_VOLUME, mountPath: options.renderDir, readOnly: true });
  return {
    container: sidecarContainer(options, socketMount),
    volumes: sidecarVolumes(options),
    appMounts,
    appEnv: { name: SOCKET_ENV, value: SOCKET_PATH },
    sharedGroup: BROKER_UID,
  };
}

function sidecarContainer(options: SidecarOptions, socketMount: V1VolumeMount): V1Container {
  const env: V1EnvVar[] = [
    { name: SOCKET_ENV, value: SOCKET_PATH },
    { name: 'SECRETS_BROKER_HEALTH_LISTEN_PORT', value: String(HEALTH_PORT) },
    // Node sizes its heap from the memory limit but lets it grow past a small one: cap it below the limit.
    { name: 'NODE_OPTIONS', value: `--max-old-space-size=${HEAP_MIB} --max-semi-space-size=${SEMI_SPACE_MIB}` },
  ];
  const mounts: V1VolumeMount[] = [{ ...socketMount }];
  if (options.configMap) {
    env.push({ name: 'SECRETS_BROKER_CONFIG', value: `${CONFIG_DIR}/config.yaml` });
    mounts.push({ name: CONFIG_VOLUME, mountPath: CONFIG_DIR, readOnly: true });
  }
  if (options.backend) env.push({ name: 'SECRETS_BROKER_BACKEND', value: options.backend });
  const needs = backendNeeds(options.backend);
  env.push(...needs.env.map((variable) => ({ ...variable })));
  for (const volume of needs.volumes) mounts.push({ name: volume.name, mountPath: volume.mountPath, readOnly: true });
  if (options.renderDir) mounts.push({ name: FILES_VOLUME, mountPath: options.renderDir });
  return {
    name: SIDECAR_NAME,
    image: options.image,
    // A native sidecar: started before the app containers, stopped after them, so Jobs still complete.
    restartPolicy: 'Always',
    env,
    ports: [{ name: 'broker-health', containerPort: HEALTH_PORT, protocol: 'TCP' }],
    // The kubelet probes the pod IP, never loopback: hence the separate health listener.
    // Ready about 2.6 s after start at 100m; 30 s leaves room for the AWS or Vault login.
    startupProbe: healthProbe('/readyz', 1, 30),
    livenessProbe: healthProbe('/healthz', 10, 3),
    // Fargate sizes and bills the pod from its requests: equal limits make that size exact.
    // The figures and their measurement: docs/kubernetes.md, "Sizing".
    resources: { requests: { ...RESOURCES }, limits: { ...RESOURCES } },
    securityContext: {
      runAsNonRoot: true,
      runAsUser: BROKER_UID,
      runAsGroup: BROKER_UID,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    volumeMounts: mounts,
  };
}

function healthProbe(path: string, periodSeconds: number, failureThreshold: number): V1Container['startupProbe'] {
  return { httpGet: { path, port: 'broker-health' }, periodSeconds, timeoutSeconds: 2, failureThreshold };
}

function sidecarVolumes(options: SidecarOptions): V1Volume[] {
  const volumes: V1Volume[] = [{ name: SOCKET_VOLUME, emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } }];
  if (options.configMap) volumes.push({ name: CONFIG_VOLUME, configMap: { name: options.configMap } });
  for (const volume of backendNeeds(options.backend).volumes) {
    volumes.push({ name: volume.name, ...structuredClone(volume.source) } as V1Volume);
  }
  if (options.renderDir) volumes.push({ name: FILES_VOLUME, emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } });
  return volumes;
}
