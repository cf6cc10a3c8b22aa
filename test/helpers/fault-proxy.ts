/**
 * A small HTTP proxy on loopback between the AWS SDK and moto. It forwards every request unchanged
 * unless a fault is queued for it, records what passed (operation, headers), and can inject what a
 * real service or network does on a bad day: throttling, 5xx bursts, a hung connection, a response
 * lost after the request was applied, a reset connection.
 */
import { Buffer } from 'node:buffer';
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Fault =
  /** ThrottlingException as Secrets Manager sends it (400), or a bare 429; optional Retry-After. */
  | { kind: 'throttle'; status?: 400 | 429; retryAfterSeconds?: number }
  /** An error answer: an AWS JSON error body when `type` is set, else a plain page (as a load balancer sends). */
  | { kind: 'error'; status: number; type?: string }
  /** Reads the request and never answers: the socket stays open until the client gives up. */
  | { kind: 'hang' }
  /** Forwards the request (so moto applies it), then drops the connection instead of answering. */
  | { kind: 'drop-response' }
  /** Drops the connection before forwarding anything. */
  | { kind: 'reset' };

export interface SeenRequest {
  /** `GetSecretValue`, `AssumeRoleWithWebIdentity`, ...: the X-Amz-Target suffix or the query `Action`. */
  operation: string;
  headers: IncomingMessage['headers'];
  /** The request body as text (JSON for Secrets Manager, a form for STS). */
  body: string;
  /** The fault injected, or `forwarded`. */
  outcome: Fault['kind'] | 'forwarded';
}

export interface FaultProxy {
  /** `http://127.0.0.1:<port>`: give it to the SDK as its endpoint. */
  url: string;
  /** Queues `fault` for the next `times` requests (default 1) of `operation`, or of any operation. */
  inject(fault: Fault, match?: { operation?: string; times?: number }): void;
  seen: SeenRequest[];
  /** Requests seen for `operation` (every request when omitted). */
  count(operation?: string): number;
  close(): Promise<void>;
}

interface QueuedFault {
  fault: Fault;
  operation: string | undefined;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const queue: QueuedFault[] = [];
  const seen: SeenRequest[] = [];
  const sockets = new Set<Socket>();

  const server = createServer((req, res) => {
    void readBody(req).then((body) => {
      const operation = operationOf(req, body);
      const index = queue.findIndex((q) => q.operation === undefined || q.operation === operation);
      const fault = index >= 0 ? queue.splice(index, 1)[0]?.fault : undefined;
      seen.push({ operation, headers: req.headers, body: body.toString('utf8'), outcome: fault?.kind ?? 'forwarded' });
      applyFault(fault, req, res, body, upstream);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    inject(fault, match = {}) {
      for (let i = 0; i < (match.times ?? 1); i++) queue.push({ fault, operation: match.operation });
    },
    count: (operation) => seen.filter((s) => operation === undefined || s.operation === operation).length,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function applyFault(
  fault: Fault | undefined,
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
  upstream: URL,
): void {
  switch (fault?.kind) {
    case undefined:
      forward(req, res, body, upstream, false);
      break;
    case 'drop-response':
      forward(req, res, body, upstream, true);
      break;
    case 'throttle':
      throttle(res, fault.status ?? 400, fault.retryAfterSeconds);
      break;
    case 'error':
      errorAnswer(res, fault.status, fault.type);
      break;
    case 'hang':
      break; // the socket stays open; close() or the client's own timeout ends it
    case 'reset':
      req.socket.destroy();
      break;
  }
}

function throttle(res: ServerResponse, status: number, retryAfterSeconds: number | undefined): void {
  const headers: Record<string, string> = { 'content-type': 'application/x-amz-json-1.1' };
  if (retryAfterSeconds !== undefined) headers['retry-after'] = String(retryAfterSeconds);
  if (status === 429) {
    // A bare 429, as a proxy or gateway in front of the service may answer: no AWS error type.
    res.writeHead(429, { ...headers, 'content-type': 'text/plain' }).end('Too Many Requests');
    return;
  }
  res.writeHead(status, headers).end(JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' }));
}

function errorAnswer(res: ServerResponse, status: number, type: string | undefined): void {
  if (type === undefined) {
    res.writeHead(status, { 'content-type': 'text/html' }).end(`<html><body>error ${status}</body></html>`);
    return;
  }
  res
    .writeHead(status, { 'content-type': 'application/x-amz-json-1.1' })
    .end(JSON.stringify({ __type: type, message: 'injected failure' }));
}

/** Sends the request on to moto; with `drop`, waits for moto's answer and then cuts the client off. */
function forward(req: IncomingMessage, res: ServerResponse, body: Buffer, upstream: URL, drop: boolean): void {
  const outgoing = request(
    { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
    (answer) => {
      if (drop) {
        answer.resume();
        answer.once('end', () => req.socket.destroy());
        return;
      }
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  outgoing.once('error', () => req.socket.destroy());
  outgoing.end(body);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', () => resolve(Buffer.concat(chunks)));
  });
}

/** JSON-protocol services name the operation in X-Amz-Target; query-protocol ones (STS) in `Action`. */
function operationOf(req: IncomingMessage, body: Buffer): string {
  const target = req.headers['x-amz-target'];
  if (typeof target === 'string') return target.slice(target.lastIndexOf('.') + 1);
  const query = new URLSearchParams(body.toString('utf8'));
  return query.get('Action') ?? new URL(req.url ?? '/', 'http://proxy').searchParams.get('Action') ?? 'unknown';
}
