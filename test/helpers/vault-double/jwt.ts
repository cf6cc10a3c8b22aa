/**
 * RS256 JSON Web Tokens for the Vault double: a test key pair stands in for the Kubernetes API
 * server's service-account signing key (or an OIDC issuer's key for JWT auth).
 */
import { createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';

export interface JwtSigner {
  /** PEM of the public key, as one would configure it in Vault (`pem_keys`, `jwt_validation_pubkeys`). */
  readonly publicKeyPem: string;
  readonly publicKey: KeyObject;
  sign(claims: Record<string, unknown>): string;
}

let processSigner: JwtSigner | undefined;

/** One signer per process: RSA key generation is slow, and doubles in one test file may share it. */
export function sharedJwtSigner(): JwtSigner {
  processSigner ??= createJwtSigner();
  return processSigner;
}

export function createJwtSigner(): JwtSigner {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    publicKey,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    sign(claims) {
      const header = encodeSegment({ alg: 'RS256', typ: 'JWT', kid: 'vault-double' });
      const payload = encodeSegment(claims);
      const signature = sign('sha256', Buffer.from(`${header}.${payload}`), privateKey).toString('base64url');
      return `${header}.${payload}.${signature}`;
    },
  };
}

export type JwtCheck = { ok: true; claims: Record<string, unknown> } | { ok: false; reason: string };

/** Verifies the signature (RS256 only) and the time claims; audience and bindings are the caller's. */
export function verifyJwt(token: string, key: KeyObject | string, nowMs: number): JwtCheck {
  const parts = token.split('.');
  if (parts.length !== 3) return { ok: false, reason: 'malformed token' };
  const [header, payload, signature] = parts as [string, string, string];
  let claims: Record<string, unknown>;
  try {
    const head = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { alg?: string };
    if (head.alg !== 'RS256') return { ok: false, reason: `unsupported signing algorithm ${String(head.alg)}` };
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return { ok: false, reason: 'malformed token' };
  }
  const publicKey = typeof key === 'string' ? createPublicKey(key) : key;
  const valid = verify('sha256', Buffer.from(`${header}.${payload}`), publicKey, Buffer.from(signature, 'base64url'));
  if (!valid) return { ok: false, reason: 'failed to verify signature' };
  const now = nowMs / 1000;
  if (typeof claims.exp === 'number' && now >= claims.exp) return { ok: false, reason: 'token is expired' };
  if (typeof claims.nbf === 'number' && now < claims.nbf) return { ok: false, reason: 'token is not yet valid' };
  return { ok: true, claims };
}

/** The audiences of a token: `aud` may be one string or a list. */
export function audiencesOf(claims: Record<string, unknown>): string[] {
  const aud = claims.aud;
  if (typeof aud === 'string') return [aud];
  return Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : [];
}

export interface ServiceAccountTokenInput {
  namespace: string;
  serviceAccount: string;
  audience: string | string[];
  /** Seconds since the epoch. */
  issuedAt: number;
  /** Lifetime in seconds (the kubelet's default for projected tokens is one hour). */
  lifetimeSeconds?: number;
}

/** Claims shaped like a projected service-account token issued by the Kubernetes API server. */
export function serviceAccountClaims(input: ServiceAccountTokenInput): Record<string, unknown> {
  const lifetime = input.lifetimeSeconds ?? 3600;
  return {
    aud: Array.isArray(input.audience) ? input.audience : [input.audience],
    exp: input.issuedAt + lifetime,
    iat: input.issuedAt,
    nbf: input.issuedAt,
    iss: 'https://kubernetes.default.svc.cluster.local',
    sub: `system:serviceaccount:${input.namespace}:${input.serviceAccount}`,
    'kubernetes.io': {
      namespace: input.namespace,
      pod: { name: `${input.serviceAccount}-pod`, uid: 'pod-uid' },
      serviceaccount: { name: input.serviceAccount, uid: `${input.namespace}-${input.serviceAccount}-uid` },
    },
  };
}

function encodeSegment(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
