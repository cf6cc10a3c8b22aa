#!/usr/bin/env node
/**
 * The command line: `serve` (default), `inject`, `version`, the client verbs (`get`, `put`, ...).
 * Nothing else starts the process.
 * Exit codes: 0 success or clean shutdown, 1 runtime failure, 2 invalid configuration or usage.
 */
import { serveHelp, USAGE } from './config/help.js';
import { ConfigError, loadConfig } from './config/loader.js';
import { tuneHeap } from './heap-tuning.js';
import { createLogger } from './observability/logger.js';
import { describeStartFailure, EXIT_USAGE } from './start-failure.js';
import { VERSION } from './version.js';

const CLIENT_VERBS = ['get', 'put', 'create', 'ls', 'rm', 'restore', 'watch'];

// For the image's compile cache (Dockerfile): it imports this module without running it, sets the same V8 flags
// and then compiles every chunk, as a start does.
export { tuneHeap };

async function main(argv: string[]): Promise<number> {
  // First, before any chunk is loaded: see heap-tuning.ts.
  tuneHeap();
  const [command = 'serve', ...rest] = argv;
  if (command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (command === 'version' || command === '--version' || command === '-v') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (command === 'inject') {
    // Loaded only here: the Kubernetes client is large and the serve path never needs it.
    const { runInjectCommand } = await import('./kube/inject-command.js');
    return runInjectCommand(rest, process);
  }
  if (CLIENT_VERBS.includes(command)) {
    // Loaded only here, like inject: serve never needs the client.
    const { runClientVerb } = await import('./cli/run-verb.js');
    return runClientVerb(command, rest, process);
  }
  if (command === 'serve') {
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(serveHelp());
      return 0;
    }
    if (rest.length > 0)
      return usageError(
        `unexpected argument '${rest[0]}': serve takes its options from the environment or a config file`,
      );
    return serve();
  }
  return usageError(`unknown command '${command}'`);
}

function usageError(message: string): number {
  process.stderr.write(`secrets-broker: ${message}; see 'secrets-broker --help'\n`);
  return EXIT_USAGE;
}

async function serve(): Promise<number> {
  let loaded: ReturnType<typeof loadConfig>;
  try {
    loaded = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`secrets-broker: invalid configuration: ${err.message}\n`);
    return EXIT_USAGE;
  }
  const { config, warnings, configFile } = loaded;
  const logger = createLogger(config.log.level);
  for (const warning of warnings) logger.warn(warning);
  const { startBroker } = await import('./serve.js');
  let running: Awaited<ReturnType<typeof startBroker>>;
  try {
    running = await startBroker(config, logger);
  } catch (err) {
    const failure = describeStartFailure(err, config);
    process.stderr.write(`secrets-broker: ${failure.message}\n`);
    return failure.exitCode;
  }
  logger.info(
    {
      version: VERSION,
      backend: config.backend,
      socket: running.socketPath,
      tcp: running.tcpAddress ?? 'off',
      health: running.healthAddress ?? 'off',
      tokenFile: config.auth.tokenFile,
      lockDir: config.lock.dir,
      cacheTtlMs: config.cache.ttlMs,
      ...(configFile ? { configFile } : {}),
    },
    `secrets-broker ${VERSION} serving the ${config.backend} backend on ${running.socketPath}` +
      (running.tcpAddress ? ` and ${running.tcpAddress}` : ''),
  );
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting without waiting');
        resolve(1);
        return;
      }
      stopping = true;
      logger.info({ signal, graceMs: config.shutdown.graceMs }, 'shutting down: draining in-flight requests');
      running.close().then(
        () => {
          logger.info('shutdown complete');
          resolve(0);
        },
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

// Imported rather than run (the image's compile cache is made that way), the module only exports.
if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
      // Timers of SDK clients may hold the loop open after a clean shutdown.
      if (code !== 0 || process.argv[2] !== 'inject') setImmediate(() => process.exit(code));
    },
    (err: unknown) => {
      process.stderr.write(`secrets-broker: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
