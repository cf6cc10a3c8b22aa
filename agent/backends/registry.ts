/**
 * Every backend the broker can serve, one entry each. Adding a backend is its folder (the store
 * code, and a `definition.ts` naming its settings, abilities and factory) plus its entry here: the
 * config schema, the loader, `serve`, `--help` and `inject` all read this list.
 */
import { awsBackend } from './aws-secrets-manager/definition.js';
import { fileBackend } from './file/definition.js';
import { vaultBackend } from './vault/definition.js';

/** The first is the default. */
export const BACKENDS = [fileBackend, awsBackend, vaultBackend] as const;

export type RegisteredBackend = (typeof BACKENDS)[number];
export type BackendName = RegisteredBackend['name'];

export const BACKEND_NAMES: readonly BackendName[] = BACKENDS.map((definition) => definition.name);

export function isBackendName(name: string): name is BackendName {
  return (BACKEND_NAMES as readonly string[]).includes(name);
}

export function backendNamed(name: BackendName): RegisteredBackend {
  return BACKENDS.find((definition) => definition.name === name) as RegisteredBackend;
}
