/** How a backend call ended, for tests that assert on error codes. */
import { SecretError } from '../../agent/backends/errors.js';

/** The SecretError a call failed with; any other outcome fails the test. */
export async function errorOf(promise: Promise<unknown>): Promise<SecretError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof SecretError) return err;
    throw err;
  }
  throw new Error('expected a SecretError, but the call succeeded');
}

/** `resolved`, or the code of the SecretError the call failed with. */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (err) {
    if (err instanceof SecretError) return err.code;
    throw err;
  }
}
