/**
 * Adds the broker sidecar to one pod spec, in place. Every step replaces what an earlier injection
 * left (matched by name) instead of adding a second copy, so injecting twice changes nothing.
 */
import type { V1Container, V1PodSpec } from '@kubernetes/client-node';
import { InjectError } from './inject-error.js';
import { FILES_VOLUME, SIDECAR_NAME, SIDECAR_VOLUME_NAMES, type SidecarSpec } from './sidecar-spec.js';

/** Adds the sidecar, its volumes, and the socket mount and env of every app container to `spec`. */
export function injectIntoPodSpec(spec: V1PodSpec, sidecar: SidecarSpec, where: string): void {
  if (!Array.isArray(spec.containers) || spec.containers.length === 0) {
    throw new InjectError(`${where}: the pod spec has no containers`);
  }
  spec.initContainers = placeSidecar(spec.initContainers ?? [], sidecar.container);
  const ours = new Set(sidecar.volumes.map((v) => v.name));
  // Volumes an earlier injection added and this definition no longer has (e.g. the Vault token) go.
  const kept = (spec.volumes ?? []).filter((v) => ours.has(v.name) || !SIDECAR_VOLUME_NAMES.includes(v.name));
  spec.volumes = sidecar.volumes.reduce((volumes, volume) => upsertByName(volumes, clone(volume)), kept);
  // Service links would inject SECRETS_BROKER_PORT=tcp://... for a Service named secrets-broker.
  spec.enableServiceLinks = false;
  const groups = spec.securityContext?.supplementalGroups ?? [];
  if (!groups.includes(sidecar.sharedGroup)) {
    spec.securityContext = { ...spec.securityContext, supplementalGroups: [...groups, sidecar.sharedGroup] };
  }
  for (const container of spec.containers) wireAppContainer(container, sidecar, where);
}

/** The sidecar goes first, so that other init containers can already use the broker. */
function placeSidecar(initContainers: V1Container[], container: V1Container): V1Container[] {
  const index = initContainers.findIndex((c) => c.name === SIDECAR_NAME);
  if (index === -1) return [clone(container), ...initContainers];
  const placed = [...initContainers];
  placed[index] = clone(container);
  return placed;
}

function wireAppContainer(container: V1Container, sidecar: SidecarSpec, where: string): void {
  if (container.name === SIDECAR_NAME) {
    throw new InjectError(`${where}: an app container is already named ${SIDECAR_NAME}, the sidecar's name`);
  }
  let mounts = container.volumeMounts ?? [];
  for (const mount of sidecar.appMounts) {
    const taken = mounts.find((m) => m.mountPath === mount.mountPath && m.name !== mount.name);
    if (taken) {
      throw new InjectError(
        `${where}: container ${container.name} already mounts volume ${taken.name} at ${taken.mountPath}, where the broker's ${mount.name} volume goes`,
      );
    }
    mounts = upsertByName(mounts, clone(mount));
  }
  // An earlier injection with rendered files, this one without: their volume is gone, so is the mount.
  if (!sidecar.appMounts.some((m) => m.name === FILES_VOLUME)) mounts = mounts.filter((m) => m.name !== FILES_VOLUME);
  container.volumeMounts = mounts;
  container.env = upsertByName(container.env ?? [], clone(sidecar.appEnv));
}

/** Replaces the item of the same name in place, or appends it. */
function upsertByName<T extends { name: string }>(items: T[], item: T): T[] {
  const index = items.findIndex((existing) => existing.name === item.name);
  if (index === -1) return [...items, item];
  const updated = [...items];
  updated[index] = item;
  return updated;
}

/** Each pod gets its own copy, so that no two documents share (and later mutate) one object. */
function clone<T>(value: T): T {
  return structuredClone(value);
}
