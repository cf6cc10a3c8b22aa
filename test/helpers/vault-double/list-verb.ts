/**
 * Vault's API uses a LIST verb, which Node's HTTP parser refuses (400 before any handler runs). The
 * double accepts it by rewriting a request line `LIST /v1/p HTTP/1.1` into `GET /v1/p?list=true`
 * plus an `x-double-verb: LIST` header before the parser sees it. Clients write each request head
 * in one piece, so looking at the start of each chunk is enough for a test double.
 */
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';

const LIST_LINE = /^LIST (\S+) (HTTP\/1\.[01])\r\n/;

export function rewriteListVerb(chunk: Buffer): Buffer {
  if (chunk.length < 5 || chunk.toString('latin1', 0, 5) !== 'LIST ') return chunk;
  const text = chunk.toString('latin1');
  const line = LIST_LINE.exec(text);
  if (!line) return chunk;
  const target = line[1] as string;
  const withList = `${target}${target.includes('?') ? '&' : '?'}list=true`;
  const head = `GET ${withList} ${line[2]}\r\nx-double-verb: LIST\r\n`;
  return Buffer.from(head + text.slice(line[0].length), 'latin1');
}

/** The socket as a Duplex whose incoming bytes pass through {@link rewriteListVerb}. */
export function acceptingListVerb(socket: Socket): Duplex {
  const duplex = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      socket.write(chunk, callback);
    },
    final(callback) {
      socket.end(callback);
    },
    destroy(err, callback) {
      socket.destroy(err ?? undefined);
      callback(err);
    },
  });
  socket.on('data', (chunk: Buffer) => {
    if (!duplex.push(rewriteListVerb(chunk))) socket.pause();
  });
  socket.on('end', () => duplex.push(null));
  socket.on('error', (err) => duplex.destroy(err));
  socket.on('close', () => duplex.destroy());
  return duplex;
}
