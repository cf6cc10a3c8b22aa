/**
 * A process that takes the lock of `prod/db` in the lock directory given as its argument, says
 * `held`, and exits without releasing it: what a broker stopped by `process.exit` does.
 */
import { FileSecretLocks } from '../../agent/broker/secret-locks.js';

const locks = new FileSecretLocks({ dir: process.argv[2] as string, waitMs: 0, staleMs: 10_000 });
await locks.acquire('prod/db');
process.stdout.write('held\n');
process.exit(0);
