/**
 * Where a client finds the broker when nothing is configured: the same defaults the server uses
 * (`socket.path` and `auth.tokenFile` in config/schema.ts), kept here as plain constants so the
 * client never loads the config loader or TypeBox.
 */
import path from 'node:path';

export const SOCKET_ENV = 'SECRETS_BROKER_SOCKET';
export const TOKEN_FILE_ENV = 'SECRETS_BROKER_TOKEN_FILE';

/** The server's default `socket.path`, relative to the working directory. */
export const DEFAULT_SOCKET_PATH = '.secrets-broker/broker.sock';
/** The server's default token file name, beside the socket. */
export const DEFAULT_TOKEN_FILE_NAME = 'token';

export interface BrokerLocation {
  socketPath: string;
  tokenFile: string;
}

/**
 * The socket and token file: an explicit choice first, then the environment, then the server's
 * defaults (the token file lives beside whichever socket was chosen, as on the server).
 * @example
 * resolveLocation({}, { SECRETS_BROKER_SOCKET: '/run/secrets-broker/broker.sock' });
 * // { socketPath: '/run/secrets-broker/broker.sock', tokenFile: '/run/secrets-broker/token' }
 */
export function resolveLocation(
  chosen: Partial<BrokerLocation> = {},
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): BrokerLocation {
  const socketPath = path.resolve(cwd, chosen.socketPath ?? (env[SOCKET_ENV] || DEFAULT_SOCKET_PATH));
  const besideSocket = path.join(path.dirname(socketPath), DEFAULT_TOKEN_FILE_NAME);
  const tokenFile = path.resolve(cwd, chosen.tokenFile ?? (env[TOKEN_FILE_ENV] || besideSocket));
  return { socketPath, tokenFile };
}
