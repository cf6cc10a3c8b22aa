/**
 * `secrets-broker inject`: adds the broker sidecar to the workloads of a YAML stream, the way
 * `linkerd inject` does. Deployments, StatefulSets, ReplicaSets, Jobs, CronJobs and Pods get the
 * sidecar, its volumes, and the socket mount and SECRETS_BROKER_SOCKET in every app container, also
 * as the items of a `v1` List (`kubectl get -o yaml`); every other document, and every byte between
 * documents, is copied as it came. Injecting an injected stream again returns it unchanged.
 *
 * `@kubernetes/client-node` is loaded only when a workload is found: it is large and slow to import.
 */
import { posix } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { KubernetesObject, V1PodSpec } from '@kubernetes/client-node';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { BACKEND_NAMES, isBackendName } from '../backends/registry.js';
import { VERSION } from '../version.js';
import { InjectError } from './inject-error.js';
import { injectIntoPodSpec } from './pod-injection.js';
import {
  buildSidecarSpec,
  CONFIG_DIR,
  DEFAULT_CONFIG_MAP,
  type SidecarBackend,
  type SidecarSpec,
  SOCKET_DIR,
} from './sidecar-spec.js';
import { type StreamPart, splitYamlStream } from './yaml-stream.js';

export { InjectError } from './inject-error.js';

export interface InjectOptions {
  /** Sidecar image. Default: `secrets-broker:<this version>`. */
  image?: string;
  /** Sets SECRETS_BROKER_BACKEND in the sidecar, overriding the config file's `backend`. */
  backend?: SidecarBackend;
  /**
   * ConfigMap whose `config.yaml` is the broker's config file. Default: `secrets-broker-config`, as in
   * the kustomize component; `null` configures the sidecar through its environment only.
   */
  configMap?: string | null;
  /**
   * Adds an in-memory volume for rendered files, mounted here in the sidecar and read-only in every
   * app container, e.g. `/run/secrets-files`.
   */
  renderDir?: string;
}

type ClientNode = typeof import('@kubernetes/client-node');
type DocumentPart = Extract<StreamPart, { kind: 'document' }>;

/** Where each workload kind keeps its pod spec; the API group guards against look-alike custom kinds. */
const POD_SPEC_PATHS: Record<string, { group: string; path: string[] }> = {
  Deployment: { group: 'apps', path: ['spec', 'template', 'spec'] },
  StatefulSet: { group: 'apps', path: ['spec', 'template', 'spec'] },
  ReplicaSet: { group: 'apps', path: ['spec', 'template', 'spec'] },
  Job: { group: 'batch', path: ['spec', 'template', 'spec'] },
  CronJob: { group: 'batch', path: ['spec', 'jobTemplate', 'spec', 'template', 'spec'] },
  Pod: { group: '', path: ['spec'] },
};

const CONFIG_MAP_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * Adds the broker sidecar to every workload in `yamlText` (one or more YAML documents).
 * @throws InjectError for invalid YAML, a workload without a pod spec, or invalid options.
 * @example
 * const out = await injectSidecar(readFileSync('app.yaml', 'utf8'), { backend: 'aws' });
 */
export async function injectSidecar(yamlText: string, options: InjectOptions = {}): Promise<string> {
  const sidecar = buildSidecarSpec(resolveOptions(options));
  const parts = splitYamlStream(yamlText);
  if (!parts.some((part) => isWorkload(part) || isWorkloadList(part))) return yamlText;
  const k8s = await import('@kubernetes/client-node');
  return parts
    .map((part) => {
      if (isWorkload(part)) return injectDocument(part, sidecar, k8s);
      if (isWorkloadList(part)) return injectList(part, sidecar);
      return part.source;
    })
    .join('');
}

function resolveOptions(options: InjectOptions) {
  const image = options.image ?? `secrets-broker:${VERSION}`;
  if (!/^[^\s]+$/.test(image)) throw new InjectError(`image must be a non-empty image reference, got '${image}'`);
  if (options.backend !== undefined && !isBackendName(options.backend)) {
    throw new InjectError(`backend must be one of ${BACKEND_NAMES.join(', ')}; got '${options.backend}'`);
  }
  const configMap = options.configMap === undefined ? DEFAULT_CONFIG_MAP : options.configMap;
  if (configMap !== null && (configMap.length > 253 || !CONFIG_MAP_NAME.test(configMap))) {
    throw new InjectError(`config map name must be a lowercase DNS subdomain name, got '${configMap}'`);
  }
  const renderDir = options.renderDir;
  if (renderDir !== undefined) checkRenderDir(renderDir);
  return {
    image,
    ...(options.backend ? { backend: options.backend } : {}),
    ...(configMap ? { configMap } : {}),
    ...(renderDir ? { renderDir } : {}),
  };
}

/** An absolute, normalised directory that is none of the sidecar's own and contains none of them. */
function checkRenderDir(dir: string): void {
  if (!dir.startsWith('/') || dir === '/' || posix.normalize(dir) !== dir || dir.endsWith('/') || /[\s:]/.test(dir)) {
    throw new InjectError(`render dir must be an absolute directory path such as /run/secrets-files, got '${dir}'`);
  }
  for (const taken of [SOCKET_DIR, CONFIG_DIR]) {
    if (dir === taken || dir.startsWith(`${taken}/`) || taken.startsWith(`${dir}/`)) {
      throw new InjectError(
        `render dir ${dir} overlaps the sidecar's ${taken}: choose another, e.g. /run/secrets-files`,
      );
    }
  }
}

function isWorkload(part: StreamPart): part is DocumentPart {
  return part.kind === 'document' && isWorkloadObject(part.value);
}

function isWorkloadList(part: StreamPart): part is DocumentPart {
  if (part.kind !== 'document' || !isObject(part.value)) return false;
  const { kind, apiVersion, items } = part.value;
  return kind === 'List' && apiVersion === 'v1' && Array.isArray(items) && items.some(isWorkloadObject);
}

function isWorkloadObject(value: unknown): value is KubernetesObject {
  if (!isObject(value)) return false;
  const { kind, apiVersion } = value;
  if (typeof kind !== 'string' || typeof apiVersion !== 'string') return false;
  const target = POD_SPEC_PATHS[kind];
  const group = apiVersion.includes('/') ? apiVersion.split('/')[0] : '';
  return target !== undefined && target.group === group;
}

function injectDocument(part: DocumentPart, sidecar: SidecarSpec, k8s: ClientNode): string {
  const raw = part.value as KubernetesObject & Record<string, unknown>;
  const where = `document ${part.number} (${raw.kind}/${raw.metadata?.name ?? 'unnamed'})`;
  const typed = loadTyped(part, k8s, where);
  // The client's model drops fields it does not know (newer than its Kubernetes version); such a
  // document is changed as plain data instead, so that nothing the user wrote is lost.
  const lossless = keepsEveryField(raw, parseYaml(dumpTyped(k8s, typed)));
  const target: KubernetesObject = lossless ? typed : structuredClone(raw);
  const before = plain(target);
  injectIntoPodSpec(podSpecOf(target, where), sidecar, where);
  if (isDeepStrictEqual(before, plain(target))) return part.source;
  const body = lossless ? dumpTyped(k8s, target) : stringifyYaml(target);
  return (part.hasMarker ? '---\n' : '') + body;
}

/** A List's items are changed as plain data: the client has no model for a List of mixed kinds. */
function injectList(part: DocumentPart, sidecar: SidecarSpec): string {
  const list = structuredClone(part.value) as { items: unknown[] };
  list.items.forEach((item, index) => {
    if (!isWorkloadObject(item)) return;
    const where = `document ${part.number} item ${index + 1} (${item.kind}/${item.metadata?.name ?? 'unnamed'})`;
    injectIntoPodSpec(podSpecOf(item, where), sidecar, where);
  });
  if (isDeepStrictEqual(part.value, list)) return part.source;
  return (part.hasMarker ? '---\n' : '') + stringifyYaml(list);
}

function loadTyped(part: DocumentPart, k8s: ClientNode, where: string): KubernetesObject {
  try {
    const [typed] = k8s.loadAllYaml(part.source) as KubernetesObject[];
    if (typed) return typed;
  } catch (err) {
    throw new InjectError(`${where}: cannot read it as a Kubernetes object: ${(err as Error).message.split('\n')[0]}`);
  }
  throw new InjectError(`${where}: cannot read it as a Kubernetes object`);
}

function dumpTyped(k8s: ClientNode, object: KubernetesObject): string {
  // No line folding and no anchors: the output is read by people and by kubectl alike.
  return k8s.dumpYaml(object, { lineWidth: -1, noRefs: true });
}

function podSpecOf(object: KubernetesObject, where: string): V1PodSpec {
  const { path } = POD_SPEC_PATHS[object.kind as string]!;
  let node: unknown = object;
  for (const key of path) node = isObject(node) ? node[key] : undefined;
  if (!isObject(node)) throw new InjectError(`${where}: has no ${path.join('.')} to add the sidecar to`);
  return node as unknown as V1PodSpec;
}

/** True when every key of `original`, at any depth, is still present in `roundTrip`. */
function keepsEveryField(original: unknown, roundTrip: unknown): boolean {
  if (Array.isArray(original)) {
    return (
      Array.isArray(roundTrip) &&
      original.length === roundTrip.length &&
      original.every((item, i) => keepsEveryField(item, roundTrip[i]))
    );
  }
  if (!isObject(original)) return true;
  if (!isObject(roundTrip)) return false;
  return Object.entries(original).every(
    ([key, value]) => value === null || (key in roundTrip && keepsEveryField(value, roundTrip[key])),
  );
}

function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
