/**
 * TypeBox schemas of every route: they validate requests, shape responses (a response schema means
 * no field outside it, a value above all, can leak into a body that should not carry one), and
 * generate the OpenAPI document.
 */
import { Type } from '@sinclair/typebox';

const Encoding = Type.Union([Type.Literal('utf8'), Type.Literal('base64')], {
  description: '`base64` marks a binary value carried base64-encoded.',
});
const Tags = Type.Record(Type.String({ minLength: 1, maxLength: 128 }), Type.String({ maxLength: 256 }), {
  description: 'Free-form string labels.',
});
const Description = Type.String({ maxLength: 2048 });
const Value = Type.String({ description: 'The secret value, at most 65,536 bytes.' });

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

export const CreateBodySchema = Type.Object(
  {
    id: Type.String({ description: '1-512 characters of A-Z a-z 0-9 / _ + = . @ -' }),
    value: Value,
    encoding: Type.Optional(Encoding),
    description: Type.Optional(Description),
    tags: Type.Optional(Tags),
  },
  { additionalProperties: false },
);

export const UpdateBodySchema = Type.Object(
  {
    value: Value,
    encoding: Type.Optional(Encoding),
    description: Type.Optional(Description),
    tags: Type.Optional(Tags),
  },
  { additionalProperties: false },
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
