/**
 * A Vault stand-in on 127.0.0.1 (port 0), written from Vault's HTTP API documentation: KV version 2
 * mounts, Kubernetes and JWT login, the token method, `sys/health`, `sys/mounts` and ACL policies.
 * Switches make it misbehave the way Vault does: sealed (503 on everything but health), a rate
 * limit quota (429 with Retry-After), latency. Every request is recorded for assertions.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, createServer as createTcpServer, type Socket, type Server as TcpServer } from 'node:net';
import { allows, type Capability, DEFAULT_POLICY, type PolicyRule, parsePolicy } from './acl.js';
import { AuthMethods, type TokenRecord } from './auth.js';
import { type JwtSigner, sharedJwtSigner } from './jwt.js';
import { badRequest, KvEngine, type Reply } from './kv-engine.js';
import { acceptingListVerb } from './list-verb.js';
import { decodePath, header, isTrue, readBody, send } from './wire.js';

export interface RecordedRequest {
  method: string;
  /** Path after `/v1/`, percent-decoded, without the query. */
  path: string;
  query: URLSearchParams;
  /** True for LIST or GET with `?list=true`. */
  list: boolean;
  namespace: string | undefined;
  token: string | undefined;
}

export interface VaultDoubleOptions {
  /** The double's clock (token expiry, deletion times); `advance()` moves it forward. */
  now?: () => number;
  /** Serve HTTPS with this key and certificate (PEM). The LIST verb is then not accepted. */
  tls?: { key: string | Buffer; cert: string | Buffer };
}

const noRoute = (path: string): Reply => ({
  status: 404,
  body: { errors: [`no handler for route "${path}". route entry not found.`] },
});
const unsupported = (): Reply => ({
  status: 405,
  body: { errors: ['1 error occurred:\n\t* unsupported operation\n\n'] },
});
const KV_KINDS = new Set(['config', 'data', 'metadata', 'delete', 'undelete', 'destroy']);

export class VaultDouble {
  /** Signs service-account tokens; `kubernetes` and `jwt` auth verify with its public key. */
  readonly signer: JwtSigner = sharedJwtSigner();
  readonly auth: AuthMethods;
  readonly rootToken: string;
  readonly requests: RecordedRequest[] = [];
  /** 503 "Vault is sealed" on everything but sys/health and sys/seal-status. */
  sealed = false;
  initialized = true;
  /** When set, every request but sys/* answers 429 with this Retry-After (seconds). */
  quota: { retryAfterSeconds: number } | undefined;
  /** Delay before each answer, in ms. */
  latencyMs = 0;
  /** Most requests in the double at once (received, not yet answered) since {@link resetPeaks}. */
  peakInFlight = 0;
  /** Most client connections open at once since {@link resetPeaks} (plain HTTP only). */
  peakConnections = 0;
  #inFlight = 0;
  /** Runs after a request is recorded and before it is handled: lets a test act "meanwhile". */
  beforeRequest: ((request: RecordedRequest) => void | Promise<void>) | undefined;
  readonly #server: Server;
  /** Plain HTTP listens here and hands connections to #server, so LIST can be rewritten first. */
  readonly #tcp: TcpServer | undefined;
  readonly #sockets = new Set<Socket>();
  readonly #tls: boolean;
  readonly #clock: () => number;
  #offsetMs = 0;
  readonly #mounts = new Map<string, KvEngine>();
  readonly #policies = new Map<string, PolicyRule[]>();
  readonly #delays = new Set<NodeJS.Timeout>();

  constructor(options: VaultDoubleOptions = {}) {
    this.#clock = options.now ?? Date.now;
    const now = () => this.now();
    this.auth = new AuthMethods(now);
    this.auth.enable('kubernetes', 'kubernetes', this.signer.publicKey);
    this.auth.enable('jwt', 'jwt', this.signer.publicKey);
    this.rootToken = this.auth.issue({ policies: ['root'], ttlSeconds: 0, path: 'auth/token/root' }).id;
    this.#mounts.set('secret', new KvEngine(now));
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      this.#handle(req, res).catch((err: unknown) => send(res, { status: 500, body: { errors: [String(err)] } }));
    };
    this.#tls = options.tls !== undefined;
    this.#server = options.tls ? createHttpsServer(options.tls, handler) : createServer(handler);
    this.#tcp = options.tls
      ? undefined
      : createTcpServer((socket) => {
          this.#sockets.add(socket);
          this.peakConnections = Math.max(this.peakConnections, this.#sockets.size);
          socket.on('close', () => this.#sockets.delete(socket));
          this.#server.emit('connection', acceptingListVerb(socket));
        });
  }

  get addr(): string {
    const { port } = (this.#tcp ?? this.#server).address() as AddressInfo;
    return `${this.#tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  }

  now(): number {
    return this.#clock() + this.#offsetMs;
  }

  /** Moves the double's clock forward (tokens expire, deletion times pass). */
  advance(ms: number): void {
    this.#offsetMs += ms;
  }

  kv(mount = 'secret'): KvEngine {
    const engine = this.#mounts.get(mount);
    if (!engine) throw new Error(`no KV mount ${mount}`);
    return engine;
  }

  setPolicy(name: string, hcl: string): void {
    this.#policies.set(name, parsePolicy(hcl));
  }

  /** How many recorded requests match the method (any when undefined) and the path. */
  count(method: string | undefined, path: string | RegExp): number {
    return this.requests.filter(
      (r) =>
        (method === undefined || r.method === method) &&
        (typeof path === 'string' ? r.path === path : path.test(r.path)),
    ).length;
  }

  async listen(): Promise<this> {
    const listener = this.#tcp ?? this.#server;
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async close(): Promise<void> {
    // Requests still held by `latencyMs` are dropped with their connections.
    for (const timer of this.#delays) clearTimeout(timer);
    this.#server.closeAllConnections();
    for (const socket of this.#sockets) socket.destroy();
    if (this.#tcp) await new Promise<void>((resolve) => this.#tcp?.close(() => resolve()));
    else await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#delays.delete(timer);
        resolve();
      }, ms);
      this.#delays.add(timer);
    });
  }

  resetPeaks(): void {
    this.peakInFlight = this.#inFlight;
    this.peakConnections = this.#sockets.size;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.#inFlight++;
    this.peakInFlight = Math.max(this.peakInFlight, this.#inFlight);
    try {
      await this.#answer(req, res);
    } finally {
      this.#inFlight--;
    }
  }

  async #answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://vault.invalid');
    const raw = await readBody(req);
    const method = header(req, 'x-double-verb') === 'LIST' ? 'LIST' : (req.method ?? 'GET');
    const path = url.pathname.startsWith('/v1/') ? decodePath(url.pathname.slice(4)) : url.pathname;
    const request: RecordedRequest = {
      method,
      path,
      query: url.searchParams,
      list: method === 'LIST' || (method === 'GET' && isTrue(url.searchParams.get('list'))),
      namespace: header(req, 'x-vault-namespace'),
      token: header(req, 'x-vault-token'),
    };
    this.requests.push(request);
    await this.beforeRequest?.(request);
    if (this.latencyMs > 0) await this.#delay(this.latencyMs);
    let body: Record<string, unknown> = {};
    try {
      body = raw.trim() === '' ? {} : (JSON.parse(raw) as Record<string, unknown>);
    } catch {
      send(res, badRequest('failed to parse JSON input'), method);
      return;
    }
    send(res, this.#route(request, body), method);
  }

  #route(request: RecordedRequest, body: Record<string, unknown>): Reply {
    const { path, method } = request;
    if (path === 'sys/health') return this.#health(request.query);
    if (path === 'sys/seal-status')
      return { status: 200, body: { initialized: this.initialized, sealed: this.sealed } };
    if (this.sealed || !this.initialized) return { status: 503, body: { errors: ['Vault is sealed'] } };
    if (this.quota && !path.startsWith('sys/')) {
      return {
        status: 429,
        headers: { 'retry-after': String(this.quota.retryAfterSeconds) },
        body: { errors: [`request path "${path}": rate limit quota exceeded`] },
      };
    }
    const login = /^auth\/(.+)\/login$/.exec(path);
    if (login && (method === 'POST' || method === 'PUT') && this.auth.hasMount(login[1] as string)) {
      return this.auth.login(login[1] as string, body);
    }
    const token = this.auth.find(request.token);
    if (!token) return AuthMethods.permissionDenied();
    if (!this.#permits(token, path, this.#capability(request))) return AuthMethods.permissionDenied();
    return this.#authenticated(request, token, body);
  }

  #authenticated(request: RecordedRequest, token: TokenRecord, body: Record<string, unknown>): Reply {
    const { path, method } = request;
    const write = method === 'POST' || method === 'PUT';
    if (path === 'auth/token/lookup-self' && (method === 'GET' || write)) return this.auth.lookupSelf(token);
    if (path === 'auth/token/renew-self' && write) return this.auth.renewSelf(token, body);
    if (path === 'auth/token/revoke-self' && write) return this.auth.revoke(token);
    if (path === 'auth/token/create' && write) return this.auth.create(body);
    if (path.startsWith('sys/mounts/')) return this.#mountsRoute(path.slice('sys/mounts/'.length), method, body);
    if (path.startsWith('sys/policies/acl/'))
      return this.#policyRoute(path.slice('sys/policies/acl/'.length), method, body);
    const located = this.#locateKv(path);
    if (!located) return noRoute(path);
    return kvRoute(located.engine, located.kind, located.rel, request, body);
  }

  #locateKv(path: string): { engine: KvEngine; kind: string; rel: string } | undefined {
    for (const [mount, engine] of this.#mounts) {
      if (!path.startsWith(`${mount}/`)) continue;
      const rest = path.slice(mount.length + 1);
      const slash = rest.indexOf('/');
      const kind = slash === -1 ? rest : rest.slice(0, slash);
      if (KV_KINDS.has(kind)) return { engine, kind, rel: slash === -1 ? '' : rest.slice(slash + 1) };
    }
    return undefined;
  }

  #capability(request: RecordedRequest): Capability {
    if (request.list) return 'list';
    if (request.method === 'GET' || request.method === 'HEAD') return 'read';
    if (request.method === 'DELETE') return 'delete';
    if (request.method === 'PATCH') return 'patch';
    const located = this.#locateKv(request.path);
    const creates =
      located && (located.kind === 'data' || located.kind === 'metadata') && !located.engine.has(located.rel);
    return creates ? 'create' : 'update';
  }

  #permits(token: TokenRecord, path: string, capability: Capability): boolean {
    if (token.policies.includes('root')) return true;
    const rules = token.policies.flatMap((name) =>
      name === 'default' ? DEFAULT_POLICY : (this.#policies.get(name) ?? []),
    );
    return allows(rules, path, capability);
  }

  #health(query: URLSearchParams): Reply {
    const code = (name: string, fallback: number) => Number(query.get(name) ?? fallback);
    const status = !this.initialized
      ? code('uninitcode', 501)
      : this.sealed
        ? code('sealedcode', 503)
        : code('activecode', 200);
    const body = {
      initialized: this.initialized,
      sealed: this.sealed,
      standby: false,
      performance_standby: false,
      replication_performance_mode: 'disabled',
      replication_dr_mode: 'disabled',
      server_time_utc: Math.floor(this.now() / 1000),
      version: '1.17.0+double',
      cluster_name: 'vault-double',
      cluster_id: 'vault-double',
    };
    return { status, body };
  }

  #mountsRoute(mount: string, method: string, body: Record<string, unknown>): Reply {
    const name = mount.replace(/\/+$/, '');
    if (method === 'DELETE') {
      this.#mounts.delete(name);
      return { status: 204 };
    }
    if (method !== 'POST' && method !== 'PUT') return unsupported();
    const version = (body.options as { version?: unknown } | undefined)?.version;
    if (!(body.type === 'kv-v2' || (body.type === 'kv' && String(version) === '2'))) {
      return badRequest('the double only mounts KV version 2 engines');
    }
    if (this.#mounts.has(name)) return badRequest(`path is already in use at ${name}/`);
    this.#mounts.set(name, new KvEngine(() => this.now()));
    return { status: 204 };
  }

  #policyRoute(name: string, method: string, body: Record<string, unknown>): Reply {
    if (method === 'DELETE') {
      this.#policies.delete(name);
      return { status: 204 };
    }
    if (method === 'GET') return this.#policies.has(name) ? { status: 200, body: { data: { name } } } : noRoute(name);
    if (typeof body.policy !== 'string') return badRequest("'policy' parameter not supplied or empty");
    this.setPolicy(name, body.policy);
    return { status: 204 };
  }
}

function kvRoute(
  engine: KvEngine,
  kind: string,
  rel: string,
  request: RecordedRequest,
  body: Record<string, unknown>,
): Reply {
  const { method } = request;
  const write = method === 'POST' || method === 'PUT';
  if (kind === 'config')
    return method === 'GET' ? engine.readConfig() : write ? engine.writeConfig(body) : unsupported();
  if (kind === 'metadata') {
    if (request.list) return engine.list(rel === '' || rel.endsWith('/') ? rel : `${rel}/`);
    if (method === 'GET') return engine.readMetadata(rel);
    if (write) return engine.writeMetadata(rel, body);
    return method === 'DELETE' ? engine.deleteMetadata(rel) : unsupported();
  }
  if (rel === '') return unsupported();
  if (kind === 'data') {
    if (method === 'GET') return engine.readData(rel, request.query.get('version') ?? undefined);
    if (write) return engine.writeData(rel, body);
    return method === 'DELETE' ? engine.deleteLatest(rel) : unsupported();
  }
  return write ? engine.changeVersions(kind as 'delete' | 'undelete' | 'destroy', rel, body) : unsupported();
}
