/**
 * The building blocks of the config schema: a leaf carries its environment name, help text and
 * default beside its type, so validation, `--help` and the options table all come from one place.
 * Shared by the broker's own sections (schema.ts) and each backend's (backends/<name>/definition.ts).
 */
import { type TSchema, Type } from '@sinclair/typebox';

export interface LeafMeta {
  env: string;
  description: string;
  fallbackEnv?: string[];
  /** Shown in help when the default is computed from other keys. */
  defaultText?: string;
  /** A secret: error messages never echo its value. */
  sensitive?: boolean;
}

export const leaf = <T extends TSchema>(schema: T, meta: LeafMeta): T => Object.assign(schema, meta);
export const port = (meta: LeafMeta, dflt: number) =>
  leaf(Type.Integer({ minimum: 0, maximum: 65535, default: dflt }), meta);
export const millis = (meta: LeafMeta, dflt: number, minimum = 0, maximum = 86_400_000) =>
  leaf(Type.Integer({ minimum, maximum, default: dflt }), meta);
export const optionalPath = (meta: LeafMeta) => Type.Optional(leaf(Type.String({ minLength: 1 }), meta));
/** A mapping of leaves that refuses unknown keys and defaults to empty. */
export const section = <T extends Record<string, TSchema>>(props: T) =>
  Type.Object(props, { additionalProperties: false, default: {} });
