/**
 * Id patterns for the list filter and the access policy. RE2 semantics (re2js) so that matching is
 * linear in the id's length whatever a caller sends: no backtracking, no ReDoS.
 */
import { RE2JS } from 're2js';
import { SecretError } from '../backends/errors.js';

/** Longest filter accepted: large enough for any real id pattern, small enough to compile cheaply. */
export const MAX_FILTER_LENGTH = 1024;

export interface IdPattern {
  source: string;
  /** Search semantics: matches anywhere in the id unless anchored with ^ or $. */
  test(id: string): boolean;
}

/** Compiles an RE2 pattern; throws re2js's own error when it is invalid. */
export function compileIdPattern(source: string): IdPattern {
  const re = RE2JS.compile(source);
  return { source, test: (id) => re.matcher(id).find() };
}

/** Compiles a caller's list filter; an invalid or oversized one is 400 `invalid_filter`. */
export function compileListFilter(source: string): IdPattern {
  if (source.length > MAX_FILTER_LENGTH) {
    throw new SecretError('invalid_filter', `filter is longer than ${MAX_FILTER_LENGTH} characters`);
  }
  try {
    return compileIdPattern(source);
  } catch (err) {
    throw new SecretError('invalid_filter', `filter is not a valid RE2 regular expression: ${(err as Error).message}`);
  }
}

/** Characters that stand for themselves in a pattern and may appear in an id. */
const LITERAL = /[A-Za-z0-9/_=@-]/;
const QUANTIFIER = /[?*{]/;

/**
 * The literal text every match must start with, for `^`-anchored filters like `^prod/db/`: lets a
 * backend narrow its listing server-side. Conservative: any alternation, group or class at the
 * front yields no prefix, and a quantified last character is dropped (`^ab?` gives `a`).
 */
export function literalPrefix(source: string): string {
  if (!source.startsWith('^') || source.includes('|')) return '';
  let prefix = '';
  for (let i = 1; i < source.length; i++) {
    let ch = source[i] as string;
    if (ch === '\\' && i + 1 < source.length && /[.+/=@-]/.test(source[i + 1] as string)) {
      ch = source[++i] as string;
    } else if (!LITERAL.test(ch)) {
      if (QUANTIFIER.test(ch) || ch === '+') return ch === '+' ? prefix : prefix.slice(0, -1);
      return prefix;
    }
    const next = source[i + 1];
    if (next !== undefined && QUANTIFIER.test(next)) return prefix;
    prefix += ch;
  }
  return prefix;
}
