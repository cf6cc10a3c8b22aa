/**
 * The double's HTTP wire: Vault's response envelope, request bodies and header and path helpers.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Reply } from './kv-engine.js';

/** Vault wraps successful JSON answers in one envelope; errors are a bare `{"errors": [...]}`. */
export function send(res: ServerResponse, reply: Reply, method = 'GET'): void {
  for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
  if (reply.status === 204 || reply.body === undefined || method === 'HEAD') {
    res.writeHead(reply.status).end();
    return;
  }
  const body = reply.body as Record<string, unknown>;
  const payload = 'errors' in body ? body : { ...envelope(), ...body };
  res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
}

export function envelope(): Record<string, unknown> {
  return {
    request_id: randomUUID(),
    lease_id: '',
    renewable: false,
    lease_duration: 0,
    data: null,
    wrap_info: null,
    warnings: null,
    auth: null,
  };
}

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function decodePath(path: string): string {
  return path.split('/').map(decodeURIComponent).join('/');
}

export function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export function isTrue(value: string | null): boolean {
  return value !== null && ['1', 't', 'T', 'true', 'TRUE', 'True'].includes(value);
}
