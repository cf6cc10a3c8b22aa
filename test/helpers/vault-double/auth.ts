/**
 * Tokens and logins, after Vault's API documentation: `auth/<mount>/login` for the Kubernetes and
 * JWT methods (an RS256 token verified with a configured key, bound to a role), and the token
 * method's `lookup-self`, `renew-self`, `revoke-self` and `create`. Tokens carry a TTL, a max TTL
 * and a renewable flag; an expired or revoked token is unknown, so Vault answers 403.
 */

import type { KeyObject } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { audiencesOf, verifyJwt } from './jwt.js';
import { badRequest, parseDuration, type Reply } from './kv-engine.js';

export interface RoleTokenSettings {
  /** Seconds; the token's TTL at login and the default renewal increment. */
  token_ttl?: number;
  /** Seconds; renewals never extend a token past login time plus this. */
  token_max_ttl?: number;
  token_policies?: string[];
  /** `batch` tokens cannot be renewed. */
  token_type?: 'service' | 'batch';
}

export interface KubernetesRole extends RoleTokenSettings {
  bound_service_account_names: string[];
  bound_service_account_namespaces: string[];
  /** When set, the token's `aud` must contain it. */
  audience?: string;
}

export interface JwtRole extends RoleTokenSettings {
  bound_audiences?: string[];
  bound_subject?: string;
  user_claim?: string;
}

export interface TokenRecord {
  id: string;
  accessor: string;
  policies: string[];
  issuedAt: number;
  /** 0: never expires. */
  expiresAt: number;
  /** 0: no max TTL. */
  maxExpiresAt: number;
  ttlSeconds: number;
  renewable: boolean;
  type: 'service' | 'batch';
  path: string;
  meta: Record<string, string>;
}

interface AuthMount {
  type: 'kubernetes' | 'jwt';
  key: KeyObject;
  roles: Map<string, KubernetesRole | JwtRole>;
}

/** Vault reports ACL refusals and unknown tokens as a one-item multierror. */
const permissionDenied = (reason = 'permission denied'): Reply => ({
  status: 403,
  body: { errors: [`1 error occurred:\n\t* ${reason}\n\n`] },
});

export class AuthMethods {
  readonly #now: () => number;
  readonly #tokens = new Map<string, TokenRecord>();
  readonly #mounts = new Map<string, AuthMount>();
  /** The JWTs presented at successful logins, in order (tests check which file content was sent). */
  readonly loginsSeen: string[] = [];

  constructor(now: () => number) {
    this.#now = now;
  }

  enable(mount: string, type: 'kubernetes' | 'jwt', key: KeyObject): void {
    this.#mounts.set(mount, { type, key, roles: new Map() });
  }

  hasMount(mount: string): boolean {
    return this.#mounts.has(mount);
  }

  writeRole(mount: string, name: string, role: KubernetesRole | JwtRole): void {
    const target = this.#mounts.get(mount);
    if (!target) throw new Error(`no auth mount ${mount}`);
    target.roles.set(name, role);
  }

  /** Issues a token directly (the root token, or one for `token` auth tests). */
  issue(input: {
    policies: string[];
    ttlSeconds: number;
    maxTtlSeconds?: number;
    renewable?: boolean;
    path?: string;
  }): TokenRecord {
    const now = this.#now();
    const record: TokenRecord = {
      id: `hvs.${randomBytes(18).toString('base64url')}`,
      accessor: randomBytes(12).toString('base64url'),
      policies: input.policies,
      issuedAt: now,
      expiresAt: input.ttlSeconds > 0 ? now + input.ttlSeconds * 1000 : 0,
      maxExpiresAt: input.maxTtlSeconds ? now + input.maxTtlSeconds * 1000 : 0,
      ttlSeconds: input.ttlSeconds,
      renewable: input.renewable ?? input.ttlSeconds > 0,
      type: 'service',
      path: input.path ?? 'auth/token/create',
      meta: {},
    };
    this.#tokens.set(record.id, record);
    return record;
  }

  /** The live token with this id, or undefined (unknown, revoked or expired). */
  find(id: string | undefined): TokenRecord | undefined {
    const record = id === undefined ? undefined : this.#tokens.get(id);
    if (!record) return undefined;
    if (record.expiresAt > 0 && this.#now() >= record.expiresAt) {
      this.#tokens.delete(record.id);
      return undefined;
    }
    return record;
  }

  revokeAll(): void {
    this.#tokens.clear();
  }

  login(mount: string, body: Record<string, unknown>): Reply {
    const target = this.#mounts.get(mount);
    if (!target) return { status: 404, body: { errors: [`no handler for route "auth/${mount}/login"`] } };
    const roleName = typeof body.role === 'string' ? body.role : '';
    const jwt = typeof body.jwt === 'string' ? body.jwt : '';
    if (roleName === '') return badRequest('missing role');
    if (jwt === '') return badRequest('missing jwt');
    const role = target.roles.get(roleName);
    if (!role) {
      return badRequest(
        target.type === 'kubernetes' ? `invalid role name "${roleName}"` : `role "${roleName}" could not be found`,
      );
    }
    const refusal =
      target.type === 'kubernetes'
        ? checkKubernetes(jwt, target.key, role as KubernetesRole, this.#now())
        : checkJwt(jwt, target.key, role as JwtRole, this.#now());
    if (refusal) return refusal;
    this.loginsSeen.push(jwt);
    const record = this.issue({
      policies: ['default', ...(role.token_policies ?? [])],
      ttlSeconds: role.token_ttl ?? 3600,
      ...(role.token_max_ttl ? { maxTtlSeconds: role.token_max_ttl } : {}),
      renewable: role.token_type !== 'batch',
      path: `auth/${mount}/login`,
    });
    record.type = role.token_type ?? 'service';
    record.meta = { role: roleName };
    return { status: 200, body: { auth: authBlock(record, this.#now()) } };
  }

  lookupSelf(record: TokenRecord): Reply {
    const now = this.#now();
    return {
      status: 200,
      body: {
        data: {
          accessor: record.accessor,
          creation_time: Math.floor(record.issuedAt / 1000),
          creation_ttl: record.ttlSeconds,
          display_name: 'token',
          entity_id: '',
          expire_time: record.expiresAt ? new Date(record.expiresAt).toISOString() : null,
          explicit_max_ttl: 0,
          id: record.id,
          issue_time: new Date(record.issuedAt).toISOString(),
          meta: record.meta,
          num_uses: 0,
          orphan: true,
          path: record.path,
          policies: record.policies,
          renewable: record.renewable,
          ttl: remainingSeconds(record, now),
          type: record.type,
        },
      },
    };
  }

  renewSelf(record: TokenRecord, body: Record<string, unknown>): Reply {
    if (record.type === 'batch') return badRequest('batch tokens cannot be renewed');
    if (!record.renewable || record.expiresAt === 0) return badRequest('lease is not renewable');
    const now = this.#now();
    const increment = body.increment === undefined ? record.ttlSeconds * 1000 : incrementMs(body.increment);
    let expiresAt = now + increment;
    const warnings: string[] = [];
    if (record.maxExpiresAt && expiresAt > record.maxExpiresAt) {
      expiresAt = record.maxExpiresAt;
      warnings.push('TTL of the renewal exceeded the effective max_ttl; TTL value is capped accordingly');
    }
    record.expiresAt = expiresAt;
    return { status: 200, body: { auth: authBlock(record, now), warnings: warnings.length ? warnings : null } };
  }

  revoke(record: TokenRecord): Reply {
    this.#tokens.delete(record.id);
    return { status: 204 };
  }

  /** `auth/token/create`: a child token with the policies asked for. */
  create(body: Record<string, unknown>): Reply {
    const policies = Array.isArray(body.policies) ? body.policies.map(String) : ['default'];
    const ttl = body.ttl === undefined ? 3600 : incrementMs(body.ttl) / 1000;
    const record = this.issue({
      policies: body.no_default_policy === true ? policies : ['default', ...policies.filter((p) => p !== 'default')],
      ttlSeconds: ttl,
      ...(body.explicit_max_ttl === undefined ? {} : { maxTtlSeconds: incrementMs(body.explicit_max_ttl) / 1000 }),
      renewable: body.renewable !== false,
    });
    return { status: 200, body: { auth: authBlock(record, this.#now()) } };
  }

  static readonly permissionDenied = permissionDenied;
}

function checkKubernetes(jwt: string, key: KeyObject, role: KubernetesRole, now: number): Reply | undefined {
  const check = verifyJwt(jwt, key, now);
  if (!check.ok)
    return permissionDenied(check.reason === 'failed to verify signature' ? 'permission denied' : check.reason);
  const claims = check.claims;
  if (role.audience && !audiencesOf(claims).includes(role.audience)) {
    return permissionDenied('invalid audience (aud) claim: audience claim does not match any expected audience');
  }
  const k8s = claims['kubernetes.io'] as { namespace?: string; serviceaccount?: { name?: string } } | undefined;
  const name = k8s?.serviceaccount?.name ?? String(claims['kubernetes.io/serviceaccount/service-account.name'] ?? '');
  const namespace = k8s?.namespace ?? String(claims['kubernetes.io/serviceaccount/namespace'] ?? '');
  if (!globMatch(role.bound_service_account_names, name))
    return permissionDenied('service account name not authorized');
  if (!globMatch(role.bound_service_account_namespaces, namespace)) return permissionDenied('namespace not authorized');
  return undefined;
}

function checkJwt(jwt: string, key: KeyObject, role: JwtRole, now: number): Reply | undefined {
  const check = verifyJwt(jwt, key, now);
  if (!check.ok) return badRequest(`error validating token: ${check.reason}`);
  const claims = check.claims;
  const bound = role.bound_audiences ?? [];
  if (bound.length > 0 && !audiencesOf(claims).some((a) => bound.includes(a))) {
    return badRequest(
      'error validating token: invalid audience (aud) claim: audience claim does not match any expected audience',
    );
  }
  if (role.bound_subject && claims.sub !== role.bound_subject) {
    return badRequest('error validating token: sub claim does not match bound subject');
  }
  if (typeof claims[role.user_claim ?? 'sub'] !== 'string')
    return badRequest('claim for user_claim not found in token');
  return undefined;
}

function globMatch(patterns: string[], value: string): boolean {
  return patterns.some((p) => p === '*' || p === value || (p.endsWith('*') && value.startsWith(p.slice(0, -1))));
}

function authBlock(record: TokenRecord, now: number): Record<string, unknown> {
  return {
    client_token: record.id,
    accessor: record.accessor,
    policies: record.policies,
    token_policies: record.policies,
    metadata: record.meta,
    lease_duration: remainingSeconds(record, now),
    renewable: record.renewable,
    entity_id: '',
    token_type: record.type,
    orphan: true,
    num_uses: 0,
  };
}

function remainingSeconds(record: TokenRecord, now: number): number {
  return record.expiresAt === 0 ? 0 : Math.max(0, Math.round((record.expiresAt - now) / 1000));
}

/** Increments and TTLs come as seconds (number) or duration strings ("1h", "90s"). */
function incrementMs(value: unknown): number {
  if (typeof value === 'number') return value * 1000;
  return parseDuration(String(value));
}
