/**
 * Text in and out of the config schema: environment strings become typed values, and schema
 * errors become messages that name the key, its environment variable and what is allowed.
 */
import type { TSchema } from '@sinclair/typebox';
import { type ValueError, ValueErrorType } from '@sinclair/typebox/value';
import { ConfigError } from './config-error.js';
import { type ConfigLeaf, configLeaves } from './schema.js';

/** Environment values are strings; numbers and lists are converted here, the schema judges the rest. */
export function coerceEnvValue(leaf: ConfigLeaf, _envName: string, raw: string): unknown {
  const text = raw.trim();
  switch (leaf.schema.type) {
    case 'integer':
      return /^-?\d+$/.test(text) ? Number(text) : text;
    case 'number':
      return text !== '' && Number.isFinite(Number(text)) ? Number(text) : text;
    case 'array':
      if (leaf.schema.items?.type === 'object') return parseRenderList(leaf, text);
      return text
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    default:
      return text;
  }
}

/**
 * `SECRETS_BROKER_RENDER`: `id=path[:mode]` entries, comma-separated. Ids may hold `=`, paths rarely
 * do: each entry splits at its last `=`, and a trailing `:` with three octal digits is the mode.
 */
function parseRenderList(leaf: ConfigLeaf, text: string): unknown[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const at = entry.lastIndexOf('=');
      if (at <= 0 || at === entry.length - 1) {
        throw new ConfigError(
          `${leaf.env} entry '${entry}' must be id=path or id=path:mode, e.g. app/db=/run/secrets-files/db:0440`,
        );
      }
      const target = entry.slice(at + 1);
      const withMode = /^(.+):(0?[0-7]{3})$/.exec(target);
      const id = entry.slice(0, at);
      return withMode ? { id, path: withMode[1], mode: withMode[2] } : { id, path: target };
    });
}

/** What a leaf accepts, in words: "one of file, aws, vault", "an integer from 0 to 65535". */
export function allowedValues(schema: TSchema): string {
  if (Array.isArray(schema.anyOf)) {
    return `one of ${schema.anyOf.map((s: TSchema) => String(s.const)).join(', ')}`;
  }
  if (schema.type === 'integer' || schema.type === 'number') {
    const kind = schema.type === 'integer' ? 'an integer' : 'a number';
    return `${kind} from ${schema.minimum ?? '-inf'} to ${schema.maximum ?? 'inf'}`;
  }
  if (schema.type === 'array' && schema.items?.type === 'object') {
    return `a list of {${Object.keys(schema.items.properties).join(', ')}} (in the environment: id=path[:mode], comma-separated)`;
  }
  if (schema.type === 'array') return 'a list of strings (comma-separated in the environment)';
  if (schema.pattern) return `a string matching ${schema.pattern}`;
  return 'a non-empty string';
}

export function describeSchemaError(error: ValueError): string {
  const key = error.path.replace(/^\//, '').replaceAll('/', '.');
  // An error inside a list (`policy.read.0`) belongs to the list's own key.
  const leaf = configLeaves().find((l) => l.key === key || key.startsWith(`${l.key}.`));
  const children = configLeaves().filter((l) => l.key.startsWith(`${key}.`));
  if (error.type !== ValueErrorType.ObjectAdditionalProperties && !leaf && children.length > 0) {
    return `${key} must be a mapping with the keys ${children.map((l) => l.key).join(', ')}`;
  }
  if (error.type === ValueErrorType.ObjectAdditionalProperties || (!leaf && key !== '')) {
    const parent = key.includes('.') ? key.slice(0, key.lastIndexOf('.')) : '';
    const siblings = configLeaves()
      .filter((l) => (parent ? l.key.startsWith(`${parent}.`) : true))
      .map((l) => l.key);
    return `unknown config key '${key}'; allowed keys${parent ? ` under '${parent}'` : ''}: ${siblings.join(', ')}`;
  }
  if (!leaf) return `invalid configuration: ${error.message}`;
  const shown = leaf.schema.sensitive
    ? 'invalid (value not shown)'
    : typeof error.value === 'string'
      ? `'${error.value}'`
      : JSON.stringify(error.value);
  return `${leaf.key} (${leaf.env}) is ${shown}: must be ${allowedValues(leaf.schema)}`;
}
