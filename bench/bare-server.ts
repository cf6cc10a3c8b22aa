/**
 * The yardstick: a bare Fastify app whose one wildcard route returns a fixed JSON document (the
 * broker's own answer for the benchmark secret). No auth, cache, metrics, schema or logger: what
 * Fastify on this Node costs by itself on the same kind of listener.
 *
 * Usage: node dist/bench/bare-server.js <body.json> socket <path> | tcp <port>
 */
import { readFileSync, rmSync } from 'node:fs';
import Fastify from 'fastify';

async function main(): Promise<void> {
  const [bodyFile, kind, where] = process.argv.slice(2);
  if (!bodyFile || (kind !== 'socket' && kind !== 'tcp') || !where) {
    throw new Error('usage: bare-server.js <body.json> socket <path> | tcp <port>');
  }
  const document: unknown = JSON.parse(readFileSync(bodyFile, 'utf8'));
  const app = Fastify({ logger: false });
  // The same serialisation work as the broker's route: an object turned into JSON per request.
  app.get('/secrets/*', async () => document);
  if (kind === 'socket') {
    // A socket file left by an earlier run that was killed would make listen fail.
    rmSync(where, { force: true });
    await app.listen({ path: where });
  } else await app.listen({ host: '127.0.0.1', port: Number(where) });
  const stop = () => {
    app.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdout.write('bare server listening\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
