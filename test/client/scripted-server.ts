/**
 * A node:http server on a Unix socket that answers each request with the next scripted answer and
 * records what it was asked. For what a real broker cannot be made to do on demand (a 423 at a
 * chosen moment) and for endpoints the server does not serve yet (restore, watch).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';

export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** Never answer: the request stays open until the client gives up. */
  hold?: boolean;
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** performance.now() when the request arrived. */
  at: number;
}

export interface ScriptedServer {
  socketPath: string;
  tokenFile: string;
  token: string;
  requests: RecordedRequest[];
}

export const TOKEN = 'scripted-token';

export function problem(status: number, code: string, detail: string) {
  return { type: `urn:secrets-broker:problem:${code}`, title: code, status, code, detail, requestId: 'req-1' };
}

export async function startScriptedServer(t: Test, answers: Answer[]): Promise<ScriptedServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-scripted-'));
  const socketPath = path.join(dir, 'broker.sock');
  const tokenFile = path.join(dir, 'token');
  await writeFile(tokenFile, `${TOKEN}\n`);
  const requests: RecordedRequest[] = [];
  const held: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body,
        at: performance.now(),
      });
      const answer = answers.shift() ?? { status: 500, body: problem(500, 'internal', 'script exhausted') };
      if (answer.hold) return void held.push(res);
      const payload = answer.body === undefined ? '' : JSON.stringify(answer.body);
      const type = answer.status >= 400 ? 'application/problem+json' : 'application/json';
      res.writeHead(answer.status, { ...(payload ? { 'content-type': type } : {}), ...answer.headers });
      res.end(payload);
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  t.teardown(async () => {
    for (const res of held) res.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });
  return { socketPath, tokenFile, token: TOKEN, requests };
}
