/**
 * What `serve` prints when the broker cannot start: one sentence naming the setting to change, and
 * the exit code (2 when the configuration is wrong, 1 when the machine is in the way, e.g. a port
 * another process holds). No stack: the person reading it needs the setting, not our call chain.
 */
import { ConfigError } from './config/config-error.js';
import type { ResolvedConfig } from './config/loader.js';

export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;

export interface StartFailure {
  message: string;
  exitCode: number;
}

type ListenError = NodeJS.ErrnoException & { port?: number; address?: string };

/** The listener a bind failure belongs to, found by its port (the loader keeps the two ports apart). */
function listenerSetting(err: ListenError, config: ResolvedConfig) {
  if (err.port === config.health.port && config.health.port !== 0) {
    return { port: 'SECRETS_BROKER_HEALTH_LISTEN_PORT', host: 'SECRETS_BROKER_HEALTH_LISTEN_HOST', turnOff: 'health' };
  }
  return { port: 'SECRETS_BROKER_LISTEN_PORT', host: 'SECRETS_BROKER_LISTEN_HOST', turnOff: 'TCP' };
}

function describeBindFailure(err: ListenError, config: ResolvedConfig): StartFailure | undefined {
  if (err.port === undefined) return undefined;
  const where = `${err.address ?? 'its address'} port ${err.port}`;
  const setting = listenerSetting(err, config);
  const change = `set ${setting.port} to a free port, or to 0 to turn the ${setting.turnOff} listener off`;
  switch (err.code) {
    case 'EADDRINUSE':
      return { message: `${where} is already in use by another process: ${change}`, exitCode: EXIT_RUNTIME };
    case 'EACCES':
      return { message: `${where} needs privileges this user lacks: ${change} (1024 or above)`, exitCode: EXIT_USAGE };
    case 'EADDRNOTAVAIL':
      return {
        message: `${err.address} is not an address of this machine: change ${setting.host}`,
        exitCode: EXIT_USAGE,
      };
    default:
      return undefined;
  }
}

/**
 * The setting behind a path a failure names (a symbolic link at the socket, a token file that is not
 * a file), so the sentence says what to change as well as where.
 */
function pathSetting(text: string, config: ResolvedConfig): string | undefined {
  const settings: [string, string][] = [
    [config.socket.path, 'SECRETS_BROKER_SOCKET'],
    [config.auth.tokenFile, 'SECRETS_BROKER_TOKEN_FILE'],
    [config.lock.dir, 'SECRETS_BROKER_LOCK_DIR'],
  ];
  return settings.find(([file]) => text.includes(file))?.[1];
}

/** Maps a failure of `startBroker` to the sentence and exit code `serve` ends with. */
export function describeStartFailure(err: unknown, config: ResolvedConfig): StartFailure {
  if (err instanceof ConfigError) return { message: `invalid configuration: ${err.message}`, exitCode: EXIT_USAGE };
  const bind = describeBindFailure(err as ListenError, config);
  if (bind) return bind;
  const text = (err instanceof Error ? err.message : String(err)).split('\n')[0] as string;
  const setting = pathSetting(text, config);
  return {
    message: `cannot start: ${text}${setting ? ` (or set ${setting} to another path)` : ''}`,
    exitCode: EXIT_RUNTIME,
  };
}
