/**
 * The broker's configuration schema: the single source for validation, environment names, defaults
 * and `--help`. Each leaf carries `env` (its SECRETS_BROKER_* name), an optional `fallbackEnv`
 * (a vendor's standard variable), a `description`, and either `default` or `defaultText` (for
 * defaults derived from other keys at load time).
 *
 * No env name may take the shapes Kubernetes uses for service links of a Service called
 * `secrets-broker` (SECRETS_BROKER_PORT, SECRETS_BROKER_PORT_*, SECRETS_BROKER_SERVICE_*):
 * `loader.ts` ignores those silently.
 */
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { BACKEND_NAMES, BACKENDS, type RegisteredBackend } from '../backends/registry.js';
import { type LeafMeta, leaf, millis, optionalPath, port, section } from './schema-leaf.js';

/** Each backend's section, under its name, as its registry entry defines it. */
type BackendSections = { [B in RegisteredBackend as B['name']]: B['settings'] };
const backendSections = Object.fromEntries(BACKENDS.map((b) => [b.name, b.settings])) as BackendSections;

export const ConfigSchema = Type.Object(
  {
    backend: leaf(
      Type.Union(
        BACKEND_NAMES.map((name) => Type.Literal(name)),
        { default: BACKEND_NAMES[0] },
      ),
      {
        env: 'SECRETS_BROKER_BACKEND',
        description: 'Which secrets store to use.',
      },
    ),
    socket: section({
      path: leaf(Type.String({ minLength: 1, maxLength: 107, default: '.secrets-broker/broker.sock' }), {
        env: 'SECRETS_BROKER_SOCKET',
        description: 'Unix socket the API listens on (relative paths resolve against the working directory).',
      }),
      mode: leaf(Type.String({ pattern: '^0?[0-7]{3}$', default: '0660' }), {
        env: 'SECRETS_BROKER_SOCKET_MODE',
        description: 'File mode of the socket, octal.',
      }),
    }),
    auth: section({
      tokenFile: optionalPath({
        env: 'SECRETS_BROKER_TOKEN_FILE',
        description: 'Caller bearer token file; a random token is written there (mode 0640) if it does not exist.',
        defaultText: '`token` beside the socket',
      }),
    }),
    listen: section({
      host: leaf(Type.String({ minLength: 1, default: '127.0.0.1' }), {
        env: 'SECRETS_BROKER_LISTEN_HOST',
        description: 'Loopback address of the TCP listener: 127.0.0.1 or ::1 only.',
      }),
      port: port({ env: 'SECRETS_BROKER_LISTEN_PORT', description: 'TCP port of the API; 0 turns TCP off.' }, 2774),
    }),
    health: section({
      host: leaf(Type.String({ minLength: 1, default: '0.0.0.0' }), {
        env: 'SECRETS_BROKER_HEALTH_LISTEN_HOST',
        description: 'Address of the health listener (only /healthz, /readyz and /metrics, without auth).',
      }),
      port: port(
        { env: 'SECRETS_BROKER_HEALTH_LISTEN_PORT', description: 'Port of the health listener; 0 turns it off.' },
        0,
      ),
    }),
    lock: section({
      dir: optionalPath({
        env: 'SECRETS_BROKER_LOCK_DIR',
        description: 'Directory for per-secret write locks; share it between every writer (emptyDir, EFS).',
        defaultText: '`locks` beside the socket',
      }),
      waitMs: millis(
        { env: 'SECRETS_BROKER_LOCK_WAIT_MS', description: 'How long a write waits for a held lock before 423.' },
        5000,
        0,
        600_000,
      ),
      staleMs: millis(
        {
          env: 'SECRETS_BROKER_LOCK_STALE_MS',
          description: 'Age after which a lock whose holder stopped refreshing it is taken over (at least 2000).',
        },
        10_000,
        2000,
        600_000,
      ),
    }),
    cache: section({
      ttlMs: millis(
        { env: 'SECRETS_BROKER_CACHE_TTL_MS', description: 'Read cache lifetime; 0 turns the cache off.' },
        60_000,
      ),
      maxEntries: leaf(Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1000 }), {
        env: 'SECRETS_BROKER_CACHE_MAX_ENTRIES',
        description: 'Most cached values held; the least recently used goes first.',
      }),
      staleIfErrorMs: millis(
        {
          env: 'SECRETS_BROKER_CACHE_STALE_IF_ERROR_MS',
          description:
            'How old a cached value may be and still be served while the backend fails transiently; 0 turns this off.',
        },
        300_000,
      ),
      jitterRatio: leaf(Type.Number({ minimum: 0, maximum: 0.5, default: 0.1 }), {
        env: 'SECRETS_BROKER_CACHE_TTL_JITTER',
        description: 'Random fraction taken off each entry’s TTL so a fleet does not refresh in step.',
      }),
    }),
    watch: section({
      pollIntervalMs: millis(
        {
          env: 'SECRETS_BROKER_WATCH_POLL_INTERVAL_MS',
          description:
            'Time between backend polls of a watched secret (one poller per secret, however many watch it; up to 10% jitter).',
        },
        10_000,
        100,
        3_600_000,
      ),
      maxWatches: leaf(Type.Integer({ minimum: 1, maximum: 100_000, default: 1000 }), {
        env: 'SECRETS_BROKER_WATCH_MAX',
        description: 'Most watches (GET with Prefer: wait) held at once; one more is answered 503 with Retry-After.',
      }),
    }),
    retry: section({
      maxAttempts: leaf(Type.Integer({ minimum: 1, maximum: 20, default: 4 }), {
        env: 'SECRETS_BROKER_RETRY_MAX_ATTEMPTS',
        description: 'Most attempts of one backend call, the first included.',
      }),
      baseDelayMs: millis(
        {
          env: 'SECRETS_BROKER_RETRY_BASE_DELAY_MS',
          description: 'First backoff delay; doubles each retry, with jitter.',
        },
        100,
        1,
        60_000,
      ),
      maxDelayMs: millis(
        { env: 'SECRETS_BROKER_RETRY_MAX_DELAY_MS', description: 'Longest single backoff delay.' },
        2000,
        1,
        300_000,
      ),
      attemptTimeoutMs: millis(
        { env: 'SECRETS_BROKER_RETRY_ATTEMPT_TIMEOUT_MS', description: 'Timeout of one backend attempt.' },
        3000,
        1,
        300_000,
      ),
      deadlineMs: millis(
        {
          env: 'SECRETS_BROKER_RETRY_DEADLINE_MS',
          description: 'Overall budget of one backend call, retries included.',
        },
        10_000,
        1,
        600_000,
      ),
    }),
    request: section({
      timeoutMs: millis(
        {
          env: 'SECRETS_BROKER_REQUEST_TIMEOUT_MS',
          description:
            'Longest time a request (headers and body) may take to arrive; a slower one is answered 408 and its connection closed.',
        },
        10_000,
        1000,
        300_000,
      ),
    }),
    shutdown: section({
      graceMs: millis(
        { env: 'SECRETS_BROKER_SHUTDOWN_GRACE_MS', description: 'How long SIGTERM waits for in-flight requests.' },
        10_000,
        0,
        600_000,
      ),
    }),
    log: section({
      level: leaf(
        Type.Union(
          ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
          {
            default: 'info',
          },
        ),
        { env: 'SECRETS_BROKER_LOG_LEVEL', description: 'Log level (pino).' },
      ),
    }),
    render: leaf(
      Type.Array(
        Type.Object(
          {
            id: Type.String({ minLength: 1 }),
            path: Type.String({ minLength: 1 }),
            mode: Type.Optional(Type.String({ pattern: '^0?[0-7]{3}$' })),
          },
          { additionalProperties: false },
        ),
        { default: [] },
      ),
      {
        env: 'SECRETS_BROKER_RENDER',
        description:
          'Secrets written to files for apps that read files (docs/rendered-files.md); the mode is 0440 unless given, and an env entry splits at its last `=`.',
      },
    ),
    policy: section({
      read: Type.Optional(leaf(Type.Array(Type.String()), policyMeta('READ', 'read'))),
      list: Type.Optional(leaf(Type.Array(Type.String()), policyMeta('LIST', 'list'))),
      create: Type.Optional(leaf(Type.Array(Type.String()), policyMeta('CREATE', 'create'))),
      update: Type.Optional(leaf(Type.Array(Type.String()), policyMeta('UPDATE', 'update'))),
      delete: Type.Optional(leaf(Type.Array(Type.String()), policyMeta('DELETE', 'delete'))),
    }),
    ...backendSections,
  },
  { additionalProperties: false },
);

function policyMeta(verb: string, name: string): LeafMeta {
  return {
    env: `SECRETS_BROKER_POLICY_${verb}`,
    description: `Id patterns (RE2; comma-separated in env, so a pattern with a comma goes in the config file) that \`${name}\` may touch; unset allows all.`,
  };
}

export type BrokerConfig = Static<typeof ConfigSchema>;

/** Env names, fallbacks and help text of one leaf, found by walking the schema. */
export interface ConfigLeaf {
  /** Dotted path in the config file, e.g. `lock.waitMs`. */
  key: string;
  schema: TSchema & Partial<LeafMeta>;
  env: string;
  fallbackEnv: string[];
  description: string;
  defaultText: string;
}

export function configLeaves(schema: TSchema = ConfigSchema, prefix = ''): ConfigLeaf[] {
  const leaves: ConfigLeaf[] = [];
  for (const [name, child] of Object.entries(schema.properties as Record<string, TSchema & Partial<LeafMeta>>)) {
    const key = prefix ? `${prefix}.${name}` : name;
    if (child.type === 'object' && child.properties && !child.env) {
      leaves.push(...configLeaves(child, key));
      continue;
    }
    if (!child.env || !child.description) throw new Error(`config key ${key} lacks env/description`);
    leaves.push({
      key,
      schema: child,
      env: child.env,
      fallbackEnv: child.fallbackEnv ?? [],
      description: child.description,
      defaultText: child.defaultText ?? (child.default === undefined ? 'none' : JSON.stringify(child.default)),
    });
  }
  return leaves;
}
