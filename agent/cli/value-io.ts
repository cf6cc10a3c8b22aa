/**
 * Values in and out of the shell, byte-exact: a value read from stdin is stored as given (no
 * newline stripped), binary input becomes a base64 value, and a binary value goes out as raw bytes
 * unless stdout is a terminal.
 */
import type { NewSecret, Secret } from '../client/index.js';
import { BASE64_PATTERN } from '../secret-limits.js';
import { UsageError, type VerbIo } from './verb.js';

type Value = Pick<NewSecret, 'value' | 'encoding'>;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The value from the VALUE argument, or from stdin when it is absent or `-`. */
export async function readValue(
  io: VerbIo,
  verb: string,
  argument: string | undefined,
  base64: boolean,
): Promise<Value> {
  if (argument !== undefined && argument !== '-') return base64 ? base64Value(argument) : { value: argument };
  if (io.stdin.isTTY) io.stderr.write(`secrets-broker ${verb}: reading the value from stdin (end it with Ctrl-D)\n`);
  const bytes = await readAll(io.stdin);
  if (base64) return base64Value(bytes.toString('utf8'));
  try {
    return { value: strictUtf8.decode(bytes) };
  } catch {
    return { value: bytes.toString('base64'), encoding: 'base64' };
  }
}

/** `--base64` input: whitespace is dropped, since `base64` wraps its output in lines. */
function base64Value(text: string): Value {
  const value = text.replace(/\s+/g, '');
  if (!new RegExp(BASE64_PATTERN).test(value)) {
    throw new UsageError('the value is not valid base64 (--base64)');
  }
  return { value, encoding: 'base64' };
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/**
 * The value alone: raw bytes to a pipe or file; on a terminal a final newline, and a binary value
 * as base64 with a notice, since raw bytes would garble the terminal.
 */
export async function writeValue(io: VerbIo, secret: Secret): Promise<void> {
  const binary = secret.encoding === 'base64';
  if (!io.stdout.isTTY) return write(io.stdout, binary ? Buffer.from(secret.value, 'base64') : secret.value);
  if (binary) io.stderr.write(`secrets-broker get: ${secret.id} is binary; printed base64-encoded to the terminal\n`);
  return write(io.stdout, `${secret.value}\n`);
}

/** Writes and waits until the stream has taken it, so an exit right after loses nothing. */
export function write(stream: NodeJS.WritableStream, chunk: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(chunk, (err) => (err ? reject(err) : resolve()));
  });
}
