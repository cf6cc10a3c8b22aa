/**
 * `GET /secrets` above any backend: the broker applies the caller's RE2 filter to the backend's
 * pages and gathers `limit` matches. Its cursor records the backend position and how far into that
 * page it got, so a page cut in the middle resumes exactly where it stopped.
 */
import { Buffer } from 'node:buffer';
import type { CallOptions, ListPage, ListPageQuery, SecretMetadata } from '../backends/contract.js';
import { SecretError } from '../backends/errors.js';
import { compileListFilter, literalPrefix } from './id-filter.js';

export const DEFAULT_LIST_LIMIT = 100;
export const MAX_LIST_LIMIT = 1000;
/**
 * Most backend pages read for one response. A sparse filter over a large store then answers with
 * fewer items and a cursor rather than holding the request (and the backend's quota) for long.
 */
export const MAX_PAGES_PER_LIST = 20;

export interface ListRequest {
  filter?: string;
  limit?: number;
  cursor?: string;
}

export interface ListResult {
  items: SecretMetadata[];
  nextCursor?: string;
}

interface Position {
  /** The backend's cursor for the page to read (undefined: the first page). */
  page?: string;
  /** Entries of that page already returned. */
  skip: number;
}

export type PageReader = (query: ListPageQuery, options?: CallOptions) => Promise<ListPage>;

export async function listSecrets(readPage: PageReader, request: ListRequest): Promise<ListResult> {
  const limit = request.limit ?? DEFAULT_LIST_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
    throw new SecretError('invalid_request', `limit must be an integer from 1 to ${MAX_LIST_LIMIT}`);
  }
  const filter = request.filter ? compileListFilter(request.filter) : undefined;
  const prefix = request.filter ? literalPrefix(request.filter) : '';
  let position = request.cursor ? decodeCursor(request.cursor) : { skip: 0 };
  const items: SecretMetadata[] = [];
  for (let pages = 0; pages < MAX_PAGES_PER_LIST; pages++) {
    const page = await readPage({
      ...(prefix ? { prefix } : {}),
      ...(position.page ? { cursor: position.page } : {}),
      ...(filter ? { match: filter.test } : {}),
      pageSize: Math.min(MAX_LIST_LIMIT, limit - items.length + position.skip),
    });
    for (let i = position.skip; i < page.items.length; i++) {
      const item = page.items[i] as SecretMetadata;
      if (filter && !filter.test(item.id)) continue;
      items.push(item);
      if (items.length === limit) {
        const more = i + 1 < page.items.length || page.nextCursor !== undefined;
        return more ? { items, nextCursor: encodeCursor(nextAfter(position, page, i + 1)) } : { items };
      }
    }
    if (page.nextCursor === undefined) return { items };
    position = { page: page.nextCursor, skip: 0 };
    // The backend spent this request's scan budget: answer now, fewer items and a cursor.
    if (page.truncated) return { items, nextCursor: encodeCursor(position) };
  }
  return { items, nextCursor: encodeCursor(position) };
}

function nextAfter(position: Position, page: ListPage, consumed: number): Position {
  if (consumed < page.items.length) return { ...(position.page ? { page: position.page } : {}), skip: consumed };
  return { page: page.nextCursor as string, skip: 0 };
}

function encodeCursor(position: Position): string {
  return Buffer.from(JSON.stringify([position.page ?? null, position.skip])).toString('base64url');
}

function decodeCursor(cursor: string): Position {
  try {
    const [page, skip] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [unknown, unknown];
    if ((page === null || typeof page === 'string') && Number.isInteger(skip) && (skip as number) >= 0) {
      return { ...(page ? { page } : {}), skip: skip as number };
    }
  } catch {
    // fall through to the error below
  }
  throw new SecretError('invalid_request', 'cursor is not one this broker issued');
}
