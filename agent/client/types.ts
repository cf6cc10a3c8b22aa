/**
 * The shapes the API sends and accepts, written out so the client's declarations need nothing
 * beyond Node. test/client/types.test.ts proves each one equal to the server's TypeBox schema.
 */

/** `base64` marks a binary value carried base64-encoded. */
export type SecretEncoding = 'utf8' | 'base64';

/** What the API says of a secret without its value (list items, and the basis of every read). */
export interface SecretMetadata {
  id: string;
  /** The backend's version id; `ifMatch` takes it as is. */
  version: string;
  encoding: SecretEncoding;
  /** True while a writer holds the secret's lock. */
  locked: boolean;
  description?: string;
  tags?: Record<string, string>;
  createdAt?: string;
  updatedAt?: string;
}

/** A secret as read, value included. */
export interface Secret extends SecretMetadata {
  /** The value; base64 text when `encoding` is `base64`. */
  value: string;
}

/** What a write (create, put, restore) answers: the new metadata, without the value or the lock. */
export type WrittenSecret = Omit<SecretMetadata, 'locked'>;

export interface NewSecret {
  /** 1-512 characters of A-Z a-z 0-9 / _ + = . @ - */
  id: string;
  /** At most 65,536 bytes; base64 text when `encoding` is `base64`. */
  value: string;
  encoding?: SecretEncoding;
  description?: string;
  tags?: Record<string, string>;
}

export type SecretUpdate = Omit<NewSecret, 'id'>;

export interface ListQuery {
  /** RE2 regular expression searched in each id (anchor it with `^` or `$`). */
  filter?: string;
  /** Page size, 1-1000 (the server's default is 100). */
  limit?: number;
  cursor?: string;
}

export interface ListPage {
  items: SecretMetadata[];
  /** Present when there are more items: pass it as `cursor` for the next page. */
  nextCursor?: string;
}

/** The `code` of every problem the server answers with (RFC 9457 body). */
export type ProblemCode =
  | 'invalid_request'
  | 'invalid_id'
  | 'invalid_filter'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'already_exists'
  | 'pending_deletion'
  | 'precondition_failed'
  | 'payload_too_large'
  | 'locked'
  | 'throttled'
  | 'backend_error'
  | 'backend_unavailable'
  | 'backend_timeout'
  | 'internal';

/** Failures on the client's side of the wire, which no problem body describes. */
export type ClientErrorCode = 'connection_failed' | 'token_unreadable' | 'invalid_response' | 'watch_unsupported';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  code: string;
  requestId: string;
}
