/**
 * A real broker process on the file backend in a temporary directory, at its default socket
 * (`.secrets-broker/broker.sock` under that directory) and on a free loopback port.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { freePort, MAIN, startBrokerProcess, waitForOutput } from '../helpers/broker-process.js';

export interface FileBroker {
  dir: string;
  socketPath: string;
  tokenFile: string;
  token: string;
  url: string;
}

export async function startFileBroker(t: Test): Promise<FileBroker> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build (npm test does it first)`);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-client-'));
  const port = await freePort();
  const broker = startBrokerProcess({ SECRETS_BROKER_LISTEN_PORT: String(port) }, dir);
  t.teardown(async () => {
    broker.child.kill('SIGTERM');
    await broker.exited;
    await rm(dir, { recursive: true, force: true });
  });
  await waitForOutput(broker, (text) => text.includes('serving the file backend'));
  const tokenFile = path.join(dir, '.secrets-broker', 'token');
  return {
    dir,
    socketPath: path.join(dir, '.secrets-broker', 'broker.sock'),
    tokenFile,
    token: (await readFile(tokenFile, 'utf8')).trim(),
    url: `http://127.0.0.1:${port}`,
  };
}
