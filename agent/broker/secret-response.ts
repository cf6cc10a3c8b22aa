/**
 * A read rendered once, when it enters the cache: the ETag and the JSON body as one byte string,
 * so that serving it later is a decrypt and a write, with no JSON parse and re-serialise.
 *
 * Layout of the unit: a 2-byte big-endian length, the ETag (`"<version>"`), then the body. The
 * body opens with `{"locked":false,`; `locked` is the one field that changes between reads of the
 * same version, so it is set per read by overwriting those five bytes with ` true` (same length,
 * still valid JSON), never by rendering again.
 */
import type { SecretRecord } from '../backends/contract.js';

const LOCKED_PREFIX = '{"locked":false,';
/** Where `false` starts in the body. */
const LOCKED_AT = '{"locked":'.length;
const LOCKED_TRUE = Buffer.from(' true');
const LOCKED_FALSE = Buffer.from('false');
const LENGTH_BYTES = 2;

/** Renders `record` into one unit (see the file comment); unknown fields a backend added are left out. */
export function renderSecretUnit(record: SecretRecord): Buffer {
  const body: Record<string, unknown> = {
    id: record.id,
    value: record.value,
    version: record.version,
    encoding: record.encoding,
  };
  if (record.description !== undefined) body.description = record.description;
  if (record.tags !== undefined) body.tags = record.tags;
  if (record.createdAt !== undefined) body.createdAt = record.createdAt;
  if (record.updatedAt !== undefined) body.updatedAt = record.updatedAt;
  const etag = Buffer.from(`"${record.version}"`, 'utf8');
  const json = Buffer.from(LOCKED_PREFIX + JSON.stringify(body).slice(1), 'utf8');
  const unit = Buffer.allocUnsafe(LENGTH_BYTES + etag.length + json.length);
  unit.writeUInt16BE(etag.length, 0);
  etag.copy(unit, LENGTH_BYTES);
  json.copy(unit, LENGTH_BYTES + etag.length);
  return unit;
}

/** The ETag of a rendered unit, read without copying its body. */
export function unitEtag(unit: Buffer): string {
  return unit.toString('utf8', LENGTH_BYTES, LENGTH_BYTES + unit.readUInt16BE(0));
}

/**
 * One reader's view of a rendered unit. It owns its bytes: setting `locked` changes this reader's
 * body only.
 *
 * @example
 * const response = new SecretResponse(renderSecretUnit(record));
 * response.setLocked(true);
 * reply.header('etag', response.etag).send(response.body);
 */
export class SecretResponse {
  /** The version in double quotes, as the `ETag` header carries it. */
  readonly etag: string;
  /** The JSON body, ready to send. */
  readonly body: Buffer;

  constructor(unit: Buffer) {
    const etagLength = unit.readUInt16BE(0);
    this.etag = unit.toString('utf8', LENGTH_BYTES, LENGTH_BYTES + etagLength);
    this.body = unit.subarray(LENGTH_BYTES + etagLength);
  }

  get version(): string {
    return this.etag.slice(1, -1);
  }

  get locked(): boolean {
    return this.body[LOCKED_AT] === LOCKED_TRUE[0];
  }

  setLocked(locked: boolean): void {
    (locked ? LOCKED_TRUE : LOCKED_FALSE).copy(this.body, LOCKED_AT);
  }

  /** The record, parsed: for callers other than the HTTP route (tests, tools); the route sends `body`. */
  get record(): SecretRecord {
    const { locked: _locked, ...record } = JSON.parse(this.body.toString('utf8')) as SecretRecord & { locked: boolean };
    return record;
  }
}
