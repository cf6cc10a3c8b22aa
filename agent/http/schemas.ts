/**
 * TypeBox schemas of every route: they validate requests, shape responses (a response schema means
 * no field outside it, a value above all, can leak into a body that should not carry one), and
 * generate the OpenAPI document.
 */
import { Kind, type TSchema, Type, TypeRegistry } from '@sinclair/typebox';
import type { SecretEncoding } from '../backends/contract.js';
import {
  BASE64_PATTERN,
  BATCH_READ_MAX_IDS,
  MAX_DESCRIPTION_LENGTH,
  MAX_ID_LENGTH,
  MAX_TAG_KEY_LENGTH,
  MAX_TAG_VALUE_LENGTH,
  MAX_TAGS,
  MAX_VALUE_BYTES,
} from '../secret-limits.js';

/**
 * Rules the broker checks itself, with its own code and a message that names the rule (`invalid_id`
 * for a bad id, for instance, where a schema error would say `invalid_request`). Request validation
 * leaves them to the broker; the OpenAPI document states them (`documentedSchema` merges them in
 * at build time), so the document accepts exactly what the API does.
 */
export const BROKER_RULES = Symbol('rules the broker checks');

function brokerChecked<T extends TSchema>(schema: T, rules: Record<string, unknown>): T {
  return Object.assign(schema, { [BROKER_RULES]: rules });
}

/** A deep copy of `schema` with every broker-checked rule merged in, for the OpenAPI document. */
export function documentedSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(documentedSchema);
  if (typeof schema !== 'object' || schema === null) return schema;
  const copy: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(schema)) copy[key] = documentedSchema(child);
  const rules = (schema as { [BROKER_RULES]?: Record<string, unknown> })[BROKER_RULES];
  return rules ? { ...copy, ...rules } : copy;
}

/**
 * A string from a fixed list, as `enum`. TypeBox spells a union of literals `anyOf`, and a response
 * schema with `anyOf` makes the serializer build an Ajv validator and run it on every response.
 */
const STRING_ENUM = 'StringEnum';
if (!TypeRegistry.Has(STRING_ENUM)) {
  TypeRegistry.Set<{ enum: string[] }>(
    STRING_ENUM,
    (schema, value) => typeof value === 'string' && schema.enum.includes(value),
  );
}
function stringEnum<T extends string>(values: readonly T[], options: { description?: string } = {}) {
  return Type.Unsafe<T>({ [Kind]: STRING_ENUM, type: 'string', enum: values, ...options });
}

const ENCODINGS: readonly SecretEncoding[] = ['utf8', 'base64'];
const Encoding = stringEnum(ENCODINGS, { description: '`base64` marks a binary value carried base64-encoded.' });

/** Keys and values are counted in UTF-16 code units, as JavaScript and JSON Schema's maxLength do. */
const Tags = brokerChecked(
  Type.Record(Type.String(), Type.String({ maxLength: MAX_TAG_VALUE_LENGTH }), {
    maxProperties: MAX_TAGS,
    description: `Free-form string labels: at most ${MAX_TAGS}, keys of 1-${MAX_TAG_KEY_LENGTH} characters, values of at most ${MAX_TAG_VALUE_LENGTH}.`,
  }),
  { propertyNames: { minLength: 1, maxLength: MAX_TAG_KEY_LENGTH } },
);
const Description = Type.String({ maxLength: MAX_DESCRIPTION_LENGTH });
const Value = Type.String({
  description: `The secret value, at most ${MAX_VALUE_BYTES.toLocaleString('en')} bytes (UTF-8, or decoded base64).`,
});

/**
 * One id segment: the AWS name alphabet, and never `.` or `..` (so: some character other than a
 * dot, or three dots or more). No lookahead, so schema-driven generators need not filter.
 */
const ID_CHAR = 'A-Za-z0-9_+=.@-';
const ID_SEGMENT = `(?:[${ID_CHAR}]*[A-Za-z0-9_+=@-][${ID_CHAR}]*|\\.{3,})`;
export const ID_PATTERN = `^${ID_SEGMENT}(?:/${ID_SEGMENT})*$`;
const Id = brokerChecked(Type.String({ description: '1-512 characters of A-Z a-z 0-9 / _ + = . @ -' }), {
  minLength: 1,
  maxLength: MAX_ID_LENGTH,
  pattern: ID_PATTERN,
});

/** The longest base64 text whose decoded size is at most MAX_VALUE_BYTES. */
const BASE64_MAX_LENGTH = Math.ceil(MAX_VALUE_BYTES / 3) * 4;
/** What a write body's value must be, by encoding; the broker checks it (`invalid_request` or 413). */
const VALUE_BY_ENCODING = {
  anyOf: [
    {
      properties: { encoding: { type: 'string', enum: ['utf8'] }, value: { maxLength: MAX_VALUE_BYTES } },
    },
    {
      required: ['encoding'],
      properties: {
        encoding: { type: 'string', enum: ['base64'] },
        value: { pattern: BASE64_PATTERN, maxLength: BASE64_MAX_LENGTH },
      },
    },
  ],
};

export const SecretMetadataSchema = Type.Object(
  {
    id: Type.String(),
    version: Type.String({ description: 'The backend’s version id; the ETag header carries it in quotes.' }),
    encoding: Encoding,
    locked: Type.Boolean({ description: 'True while a writer holds the secret’s lock.' }),
    description: Type.Optional(Description),
    tags: Type.Optional(Tags),
    createdAt: Type.Optional(Type.String({ format: 'date-time' })),
    updatedAt: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { additionalProperties: false },
);

export const SecretSchema = Type.Object(
  { ...SecretMetadataSchema.properties, value: Value },
  { additionalProperties: false },
);

/** Write responses say nothing of the lock: the writer has just released it. */
export const WrittenSecretSchema = Type.Omit(SecretMetadataSchema, ['locked'], { additionalProperties: false });

export const CreateBodySchema = brokerChecked(
  Type.Object(
    {
      id: Id,
      value: Value,
      encoding: Type.Optional(Encoding),
      description: Type.Optional(Description),
      tags: Type.Optional(Tags),
    },
    { additionalProperties: false },
  ),
  VALUE_BY_ENCODING,
);

export const UpdateBodySchema = brokerChecked(
  Type.Object(
    {
      value: Value,
      encoding: Type.Optional(Encoding),
      description: Type.Optional(Description),
      tags: Type.Optional(Tags),
    },
    { additionalProperties: false },
  ),
  VALUE_BY_ENCODING,
);

export const ReadQuerySchema = Type.Object(
  { version: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })) },
  { additionalProperties: false },
);

export const DeleteQuerySchema = Type.Object(
  { force: Type.Optional(Type.Boolean({ description: 'Delete permanently and free the id at once.' })) },
  { additionalProperties: false },
);

export const ListQuerySchema = Type.Object(
  {
    filter: Type.Optional(Type.String({ maxLength: 1024, description: 'RE2 regular expression searched in each id.' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
  },
  { additionalProperties: false },
);

export const ListResponseSchema = Type.Object(
  {
    items: Type.Array(SecretMetadataSchema),
    nextCursor: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.Optional(Type.String()),
    code: Type.String(),
    requestId: Type.String(),
  },
  { description: 'RFC 9457 problem details.' },
);

export const IdParamSchema = Type.Object({ id: Type.String({ description: 'The secret id; may contain slashes.' }) });

/** Error statuses each route documents in OpenAPI, with the problem+json media type they carry. */
export function problemResponses(...statuses: number[]) {
  const problem = {
    description: 'Problem details',
    content: { 'application/problem+json': { schema: ProblemSchema } },
  };
  // Any route may meet a bad request, a missing token, a proxied caller or an unexpected failure.
  const all = new Set([400, 401, 403, 500, ...statuses]);
  return Object.fromEntries([...all].sort().map((s) => [s, problem]));
}

/** The `{id}` path parameter as OpenAPI shows it (the router itself takes the id from a wildcard). */
export const SecretPathParamsSchema = Type.Object({
  id: Type.String({
    pattern: ID_PATTERN,
    maxLength: MAX_ID_LENGTH,
    description: 'The secret id; may contain slashes.',
  }),
});

/** `GET /secrets/{id}` with `If-None-Match` naming the current version. */
export const NotModifiedResponse = {
  description:
    'Not modified: the current version is the one If-None-Match names (for a watch: still is after the wait); the ETag header carries it.',
  type: 'null',
} as const;

/** `POST /secrets/{id}:restore` takes no body; its answer is the restored secret without value. */
export const RestoreResponseSchema = WrittenSecretSchema;

export const BatchGetBodySchema = Type.Object(
  {
    // Each id is checked by the broker (`invalid_id`), like the id of a create.
    ids: Type.Array(Id, {
      minItems: 1,
      maxItems: BATCH_READ_MAX_IDS,
      uniqueItems: true,
      description: `1-${BATCH_READ_MAX_IDS} distinct secret ids.`,
    }),
  },
  { additionalProperties: false },
);

export const BatchGetErrorSchema = Type.Object(
  {
    id: Type.String(),
    status: Type.Integer({ description: 'The status a GET of this id alone would have answered.' }),
    code: Type.String(),
  },
  { additionalProperties: false },
);

export const BatchGetResponseSchema = Type.Object(
  {
    secrets: Type.Array(SecretSchema, { description: 'The ids read, in the order asked.' }),
    errors: Type.Array(BatchGetErrorSchema, { description: 'The ids not read, in the order asked.' }),
  },
  { additionalProperties: false },
);
