/**
 * The optional per-verb id policy. The pod's IAM role or Vault policy is the outer bound; this
 * narrows what the containers of the pod may do through the broker, e.g. read-only outside `app/`.
 */
import { SecretError } from '../backends/errors.js';
import { compileIdPattern, type IdPattern } from './id-filter.js';

export type PolicyVerb = 'read' | 'list' | 'create' | 'update' | 'delete';

/** Patterns per verb; a verb without an entry is allowed on every id. */
export type PolicyRules = Partial<Record<PolicyVerb, readonly string[]>>;

export class AccessPolicy {
  readonly #rules = new Map<PolicyVerb, IdPattern[]>();

  constructor(rules: PolicyRules = {}) {
    for (const [verb, patterns] of Object.entries(rules) as [PolicyVerb, readonly string[] | undefined][]) {
      if (patterns) this.#rules.set(verb, patterns.map(compileIdPattern));
    }
  }

  allows(verb: PolicyVerb, id: string): boolean {
    const patterns = this.#rules.get(verb);
    return !patterns || patterns.some((p) => p.test(id));
  }

  /** Throws 403 `forbidden` when the policy does not let `verb` touch `id`. */
  assertAllowed(verb: PolicyVerb, id: string): void {
    if (!this.allows(verb, id)) throw new SecretError('forbidden', `policy does not allow ${verb} on secret '${id}'`);
  }
}
