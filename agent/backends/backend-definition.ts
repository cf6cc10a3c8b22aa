/**
 * What a backend declares about itself in the registry (registry.ts): its name, its section of the
 * config schema, what its store can do, how its settings are resolved and checked at load time,
 * what the Kubernetes sidecar needs for it, and how it is built. The module that talks to the store
 * (and its SDK) is reached only through `load`, so nothing heavy is imported until it is chosen.
 */
import type { Static, TObject } from '@sinclair/typebox';
import type { BackendCapabilities, SecretBackend } from './contract.js';

/** Settings every backend receives beside its own section. */
export interface SharedBackendSettings {
  /** Timeout of one request to the store (the retry layer's attempt timeout). */
  requestTimeoutMs: number;
}

/** What resolving a section may use: paths resolve against the working directory. */
export interface SettingsContext {
  resolvePath(relative: string): string;
  env: NodeJS.ProcessEnv;
}

/** What the sidecar needs for this backend beyond the socket: environment, and volumes to mount. */
export interface SidecarNeeds {
  env: { name: string; value: string }[];
  volumes: { name: string; mountPath: string; source: Record<string, unknown> }[];
}

export interface BackendDefinition<
  Name extends string = string,
  Settings extends TObject = TObject,
  Resolved = Static<Settings>,
  Module = unknown,
> {
  /** The value of `backend` (SECRETS_BROKER_BACKEND) and the key of this backend's config section. */
  readonly name: Name;
  /** Its config section: every leaf carries its env name and help (config/schema-leaf.ts). */
  readonly settings: Settings;
  readonly capabilities: BackendCapabilities;
  /** Derived defaults and absolute paths; runs for every backend, chosen or not. */
  resolveSettings(settings: Static<Settings>, context: SettingsContext): Resolved;
  /** Rules across keys, for the chosen backend only; throws a ConfigError naming the setting. */
  checkSettings?(settings: Resolved): void;
  /**
   * What the sidecar adds for this backend when `inject --backend` names it. `socketDir` is the
   * pod-lifetime volume the socket lives on: the root filesystem is read-only.
   */
  sidecarNeeds?(socketDir: string): SidecarNeeds;
  /** Imports the backend's module, and with it the store's SDK. */
  load(): Promise<Module>;
  /** Builds the backend from its loaded module and its resolved settings. */
  create(module: Module, settings: Resolved, shared: SharedBackendSettings): SecretBackend | Promise<SecretBackend>;
}

/** Keeps the literal name and the inferred types of a definition. */
export function defineBackend<const Name extends string, Settings extends TObject, Resolved, Module>(
  definition: BackendDefinition<Name, Settings, Resolved, Module>,
): BackendDefinition<Name, Settings, Resolved, Module> {
  return definition;
}
