/**
 * `secrets-broker/client`: the typed client of the secrets API. Needs nothing beyond Node.
 * @example
 * import { SecretsBrokerClient, SecretsBrokerError } from 'secrets-broker/client';
 * const broker = new SecretsBrokerClient({ socketPath: '/run/secrets-broker/broker.sock' });
 * const { value } = await broker.get('prod/db/password');
 */
export { type BrokerLocation, DEFAULT_SOCKET_PATH, resolveLocation, SOCKET_ENV, TOKEN_FILE_ENV } from './defaults.js';
export { SecretsBrokerError, type SecretsBrokerErrorCode } from './errors.js';
export {
  type CallOptions,
  type DeleteOptions,
  type GetOptions,
  type PutOptions,
  SecretsBrokerClient,
  type SecretsBrokerClientOptions,
  type WatchOptions,
} from './secrets-broker-client.js';
export type * from './types.js';
