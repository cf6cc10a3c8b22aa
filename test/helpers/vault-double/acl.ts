/**
 * Vault ACL policies, as far as the double needs them: `path "<glob>" { capabilities = [...] }`
 * blocks, where a trailing `*` matches any suffix and `+` one path segment; when several rules
 * match, the most specific one decides (Vault's priority matching, approximated by the length of
 * the literal part); `deny` overrides anything.
 */

export type Capability = 'create' | 'read' | 'update' | 'patch' | 'delete' | 'list' | 'sudo' | 'deny';

export interface PolicyRule {
  path: string;
  capabilities: Capability[];
}

/** Parses the HCL subset that policies are written in: path blocks with a capabilities list. */
export function parsePolicy(hcl: string): PolicyRule[] {
  const withoutComments = hcl.replace(/^\s*(#|\/\/).*$/gm, '');
  const rules: PolicyRule[] = [];
  const block = /path\s+"([^"]+)"\s*\{([^}]*)\}/g;
  for (let match = block.exec(withoutComments); match; match = block.exec(withoutComments)) {
    const caps = /capabilities\s*=\s*\[([^\]]*)\]/.exec(match[2] ?? '');
    const capabilities = [...(caps?.[1] ?? '').matchAll(/"([a-z]+)"/g)].map((m) => m[1] as Capability);
    rules.push({ path: match[1] as string, capabilities });
  }
  return rules;
}

/** The policy every token gets unless created without it: a token may look itself up, renew and revoke itself. */
export const DEFAULT_POLICY: PolicyRule[] = [
  { path: 'auth/token/lookup-self', capabilities: ['read'] },
  { path: 'auth/token/renew-self', capabilities: ['update'] },
  { path: 'auth/token/revoke-self', capabilities: ['update'] },
];

export function allows(rules: PolicyRule[], path: string, capability: Capability): boolean {
  let best: { specificity: number; capabilities: Set<Capability> } | undefined;
  for (const rule of rules) {
    if (!matches(rule.path, path)) continue;
    const specificity = rule.path.replace(/[*+]/g, '').length + (rule.path.endsWith('*') ? 0 : 0.5);
    if (!best || specificity > best.specificity) best = { specificity, capabilities: new Set(rule.capabilities) };
    else if (specificity === best.specificity) for (const c of rule.capabilities) best.capabilities.add(c);
  }
  if (!best || best.capabilities.has('deny')) return false;
  return best.capabilities.has(capability);
}

function matches(pattern: string, path: string): boolean {
  const prefix = pattern.endsWith('*');
  const body = prefix ? pattern.slice(0, -1) : pattern;
  const source = body
    .split('+')
    .map((part) => part.replace(/[.*?^${}()|[\]\\]/g, '\\$&'))
    .join('[^/]+');
  return new RegExp(`^${source}${prefix ? '.*' : ''}$`).test(path);
}
