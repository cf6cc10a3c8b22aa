/**
 * The cost of the lock: conditional PUTs of 1 KiB values through the put server, once with the
 * real per-secret file locks and once with locking off, measured the same way.
 */
import type { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type autocannon from 'autocannon';
import { bearer, brokerEnv } from './broker-child.js';
import { type ServerChild, spawnNode, waitForOutput } from './child-processes.js';
import { type Endpoint, httpCall } from './endpoints.js';
import { type LoadResult, measure, rawHeader } from './load.js';
import { type BenchSettings, getSpec, putId } from './scenarios.js';

const PUT_SERVER = fileURLToPath(new URL('./put-server.js', import.meta.url));

/** A conditional PUT per connection (its own id, If-Match = the ETag it last got), with and without locks. */
export async function measurePuts(
  dir: string,
  settings: BenchSettings,
  value: string,
): Promise<{ locks: LoadResult; noLocks: LoadResult }> {
  const locks = await measurePutServer(dir, 'locks', settings, value);
  const noLocks = await measurePutServer(dir, 'no-locks', settings, value);
  return { locks, noLocks };
}

async function measurePutServer(
  dir: string,
  mode: 'locks' | 'no-locks',
  settings: BenchSettings,
  value: string,
): Promise<LoadResult> {
  const env = brokerEnv(dir, 'put');
  const socket: Endpoint = { kind: 'socket', socketPath: env.SECRETS_BROKER_SOCKET as string };
  const server: ServerChild = spawnNode([PUT_SERVER, mode], env, dir);
  try {
    await waitForOutput(server, 'put server listening', 20_000);
    const token = (await readFile(env.SECRETS_BROKER_TOKEN_FILE as string, 'utf8')).trim();
    const etags = new Map<string, string>();
    const currentEtag = async (id: string) => {
      const answer = await httpCall(socket, { path: `/secrets/${id}`, headers: bearer(token) });
      etags.set(id, String(answer.headers.etag));
    };
    const ids = Array.from({ length: settings.connections }, (_, n) => putId(n));
    await Promise.all(ids.map(currentEtag));
    let clients = 0;
    const body = JSON.stringify({ value });
    return await measure({
      ...getSpec(socket, `/secrets/${ids[0]}`, token, settings),
      method: 'PUT',
      // Writes cut off at the end of the warm-up may still land: let them, then start from their versions.
      afterWarmup: async () => {
        await new Promise((resolve) => setTimeout(resolve, PUT_SETTLE_MS));
        await Promise.all(ids.map(currentEtag));
      },
      setupClient: (client) =>
        chainConditionalPuts(client, ids[clients++ % ids.length] as string, {
          headers: { ...bearer(token), 'content-type': 'application/json' },
          body,
          etags,
          refresh: currentEtag,
        }),
    });
  } finally {
    await server.stop();
  }
}

const PUT_SETTLE_MS = 1000;

/**
 * One autocannon connection writing one id: each PUT carries the ETag of the previous answer as
 * If-Match. Should a precondition fail anyway (412), the connection reads the current version and
 * continues from it rather than failing for the rest of the run.
 */
function chainConditionalPuts(
  client: autocannon.Client,
  id: string,
  chain: {
    headers: Record<string, string>;
    body: string;
    etags: Map<string, string>;
    refresh: (id: string) => Promise<void>;
  },
): void {
  const send = () =>
    client.setRequests([
      {
        method: 'PUT',
        path: `/secrets/${id}`,
        headers: { ...chain.headers, 'if-match': chain.etags.get(id) ?? '*' },
        body: chain.body,
      },
    ]);
  send();
  // autocannon passes http-parser's header info (a flat name/value list), not Node's object.
  (client as unknown as EventEmitter).on('headers', (info: { statusCode: number; headers: string[] }) => {
    const etag = rawHeader(info.headers, 'etag');
    if (etag !== undefined) {
      chain.etags.set(id, etag);
      send();
    } else if (info.statusCode === 412) {
      chain.refresh(id).then(send, () => undefined);
    }
  });
}
