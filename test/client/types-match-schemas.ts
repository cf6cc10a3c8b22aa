/**
 * Compile-time proof (`npm run typecheck`) that the client's hand-written types are exactly the
 * server's schemas: a schema change that the client does not follow fails the typecheck.
 */
import type { Static } from '@sinclair/typebox';
import type { SecretErrorCode } from '../../agent/backends/errors.js';
import type {
  ListPage,
  ListQuery,
  NewSecret,
  Problem,
  ProblemCode,
  Secret,
  SecretMetadata,
  SecretUpdate,
  WrittenSecret,
} from '../../agent/client/index.js';
import type {
  CreateBodySchema,
  ListQuerySchema,
  ListResponseSchema,
  ProblemSchema,
  SecretMetadataSchema,
  SecretSchema,
  UpdateBodySchema,
  WrittenSecretSchema,
} from '../../agent/http/schemas.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Expand<T> = T extends object ? { [K in keyof T]: Expand<T[K]> } : T;
type Same<A, B> = Equal<Expand<A>, Expand<B>>;

export const typesMatchSchemas: [
  Same<SecretMetadata, Static<typeof SecretMetadataSchema>>,
  Same<Secret, Static<typeof SecretSchema>>,
  Same<WrittenSecret, Static<typeof WrittenSecretSchema>>,
  Same<NewSecret, Static<typeof CreateBodySchema>>,
  Same<SecretUpdate, Static<typeof UpdateBodySchema>>,
  Same<ListPage, Static<typeof ListResponseSchema>>,
  Same<ListQuery, Static<typeof ListQuerySchema>>,
  Same<Problem, Static<typeof ProblemSchema>>,
  Equal<ProblemCode, SecretErrorCode>,
] = [true, true, true, true, true, true, true, true, true];
