/**
 * A configuration the broker cannot run with. The message names the setting (its config key and
 * environment variable) and what is allowed; `serve` prints it and exits 2. Thrown by the loader,
 * and by a backend that finds at start that a setting does not work (a key that opens nothing).
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}
