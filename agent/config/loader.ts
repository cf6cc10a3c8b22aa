/**
 * Loads the configuration once at start: defaults <- optional file (SECRETS_BROKER_CONFIG, JSON or
 * YAML) <- environment (SECRETS_BROKER_*). The result is validated against the TypeBox schema,
 * derived paths are resolved, and the whole object is frozen. Any problem is a ConfigError whose
 * message names the key and what is allowed; main.ts turns it into exit code 2.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Value } from '@sinclair/typebox/value';
import type { BackendDefinition } from '../backends/backend-definition.js';
import { BACKENDS, backendNamed, type RegisteredBackend } from '../backends/registry.js';
import { compileIdPattern } from '../broker/id-filter.js';
import { assertValidId } from '../broker/secret-id.js';
import type { RenderEntry } from '../render/secret-files.js';
import { ConfigError } from './config-error.js';
import { type BrokerConfig, ConfigSchema, configLeaves } from './schema.js';
import { coerceEnvValue, describeSchemaError } from './value-text.js';

export const CONFIG_FILE_ENV = 'SECRETS_BROKER_CONFIG';

export { ConfigError } from './config-error.js';

/** Each backend's section as its registry entry resolves it (absolute paths, derived defaults). */
type ResolvedBackendSections = { [B in RegisteredBackend as B['name']]: ReturnType<B['resolveSettings']> };

/** The validated configuration with every derived default filled in. */
export type ResolvedConfig = Readonly<
  Omit<BrokerConfig, keyof ResolvedBackendSections | 'auth' | 'lock' | 'render'> & {
    auth: { tokenFile: string };
    lock: BrokerConfig['lock'] & { dir: string };
    /** Absolute paths, modes as numbers. */
    render: RenderEntry[];
  } & ResolvedBackendSections
>;

/** Any registry entry, seen through what the loader does with it. */
type AnyDefinition = BackendDefinition<string, never, unknown, unknown> & {
  resolveSettings(settings: unknown, context: Parameters<RegisteredBackend['resolveSettings']>[1]): unknown;
};

export interface LoadedConfig {
  config: ResolvedConfig;
  /** Non-fatal findings, e.g. an unknown SECRETS_BROKER_* variable, to be logged at start. */
  warnings: string[];
  /** Where the file layer came from, if any. */
  configFile?: string;
}

/** A rendered file is readable by its owner and group only, unless its entry says otherwise. */
const DEFAULT_RENDER_MODE = 0o440;

/**
 * Kubernetes injects service-link variables for a Service named `secrets-broker`; they look like
 * config but are not, so they are ignored without a warning.
 */
const SERVICE_LINK =
  /^SECRETS_BROKER_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT(_\d+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)?)$/;

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1']);

export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): LoadedConfig {
  const warnings: string[] = [];
  const configFile = env[CONFIG_FILE_ENV] ? path.resolve(cwd, env[CONFIG_FILE_ENV]) : undefined;
  const raw = configFile ? readConfigFile(configFile) : {};
  applyEnvironment(raw, env, warnings);
  const withDefaults = Value.Default(ConfigSchema, raw) as BrokerConfig;
  const firstError = Value.Errors(ConfigSchema, withDefaults).First();
  if (firstError) {
    const where = configFile ? ` (config file ${configFile} and environment)` : '';
    throw new ConfigError(`${describeSchemaError(firstError)}${where}`);
  }
  const config = resolveDerived(withDefaults, env, cwd);
  checkCrossFieldRules(config);
  return { config: deepFreeze(config), warnings, ...(configFile ? { configFile } : {}) };
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${CONFIG_FILE_ENV} file ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  let parsed: unknown;
  try {
    // Loaded only when a config file is given: most sidecars are configured by env alone, and the
    // parser is a noticeable share of start-up time.
    const { parse } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
    parsed = parse(text);
  } catch (err) {
    // Only the first line: the parser appends the offending source lines, which may hold a key.
    // The parser's first line says where ("at line 3, column 1") and ends on the colon that
    // introduced the excerpt, which goes with it.
    const reason = ((err as Error).message.split('\n')[0] ?? '').replace(/:\s*$/, '');
    throw new ConfigError(`${CONFIG_FILE_ENV} file ${file} is neither valid YAML nor JSON: ${reason}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`${CONFIG_FILE_ENV} file ${file} must hold a mapping of keys, e.g. "backend: file"`);
  }
  return parsed as Record<string, unknown>;
}

function applyEnvironment(target: Record<string, unknown>, env: NodeJS.ProcessEnv, warnings: string[]): void {
  const leaves = configLeaves();
  const known = new Set([CONFIG_FILE_ENV, ...leaves.map((l) => l.env)]);
  for (const leaf of leaves) {
    const name = [leaf.env, ...leaf.fallbackEnv].find((n) => env[n] !== undefined && env[n] !== '');
    if (!name) continue;
    setPath(target, leaf.key, coerceEnvValue(leaf, name, env[name] as string));
  }
  for (const name of Object.keys(env)) {
    if (!name.startsWith('SECRETS_BROKER_') || known.has(name) || SERVICE_LINK.test(name)) continue;
    const guess = closest(name, [...known]);
    warnings.push(`unknown environment variable ${name} ignored${guess ? `; did you mean ${guess}?` : ''}`);
  }
}

function setPath(target: Record<string, unknown>, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1] as string] = value;
}

function resolveDerived(config: BrokerConfig, env: NodeJS.ProcessEnv, cwd: string): ResolvedConfig {
  const resolvePath = (p: string) => path.resolve(cwd, p);
  const socketPath = resolvePath(config.socket.path);
  const socketDir = path.dirname(socketPath);
  const sections: Record<string, unknown> = {};
  for (const definition of BACKENDS as unknown as readonly AnyDefinition[]) {
    const own = (config as unknown as Record<string, unknown>)[definition.name];
    sections[definition.name] = definition.resolveSettings(own, { resolvePath, env });
  }
  return {
    ...config,
    socket: { ...config.socket, path: socketPath },
    auth: { tokenFile: resolvePath(config.auth.tokenFile ?? path.join(socketDir, 'token')) },
    lock: { ...config.lock, dir: resolvePath(config.lock.dir ?? path.join(socketDir, 'locks')) },
    render: config.render.map((entry) => ({
      id: entry.id,
      path: resolvePath(entry.path),
      mode: entry.mode === undefined ? DEFAULT_RENDER_MODE : Number.parseInt(entry.mode, 8),
    })),
    ...sections,
  } as unknown as ResolvedConfig;
}

function checkCrossFieldRules(config: ResolvedConfig): void {
  if (!LOOPBACK_HOSTS.has(config.listen.host)) {
    throw new ConfigError(
      `listen.host (SECRETS_BROKER_LISTEN_HOST) is '${config.listen.host}': the secrets API listens on loopback only, allowed: 127.0.0.1 or ::1`,
    );
  }
  if (config.listen.port !== 0 && config.listen.port === config.health.port) {
    throw new ConfigError(
      `health.port (SECRETS_BROKER_HEALTH_LISTEN_PORT) is ${config.health.port}, the port of the API listener (SECRETS_BROKER_LISTEN_PORT): give the two listeners different ports`,
    );
  }
  if (config.retry.maxDelayMs < config.retry.baseDelayMs) {
    throw new ConfigError('retry.maxDelayMs (SECRETS_BROKER_RETRY_MAX_DELAY_MS) must be at least retry.baseDelayMs');
  }
  checkRenders(config);
  const chosen = backendNamed(config.backend) as unknown as AnyDefinition;
  chosen.checkSettings?.((config as unknown as Record<string, never>)[config.backend] as never);
  for (const [verb, patterns] of Object.entries(config.policy)) {
    for (const pattern of patterns ?? []) {
      try {
        compileIdPattern(pattern);
      } catch {
        throw new ConfigError(`policy.${verb} pattern '${pattern}' is not a valid RE2 regular expression`);
      }
    }
  }
}

/** Each render names a valid id and a file of its own, none of the broker's own files. */
function checkRenders(config: ResolvedConfig): void {
  const own = new Set([config.socket.path, config.auth.tokenFile]);
  const paths = new Set<string>();
  for (const { id, path: file } of config.render) {
    try {
      assertValidId(id);
    } catch (err) {
      throw new ConfigError(`render (SECRETS_BROKER_RENDER) id '${id}': ${(err as Error).message}`);
    }
    if (paths.has(file)) {
      throw new ConfigError(`render (SECRETS_BROKER_RENDER) names ${file} twice: one secret per file`);
    }
    if (own.has(file) || file.startsWith(`${config.lock.dir}${path.sep}`)) {
      throw new ConfigError(
        `render (SECRETS_BROKER_RENDER) path ${file} is the broker's own socket, token or lock directory: render elsewhere`,
      );
    }
    paths.add(file);
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** The known name nearest to a mistyped one, if it is near enough to be a likely typo. */
function closest(name: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const d = editDistance(name, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(3, Math.floor(name.length / 4)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] as number;
}
