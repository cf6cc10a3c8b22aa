/** `--help` text, generated from the schema so that every option, its env name and default is listed. */
import { CONFIG_FILE_ENV } from './loader.js';
import { configLeaves } from './schema.js';
import { allowedValues } from './value-text.js';

export const USAGE = `secrets-broker: one small, safe secrets API for the containers of a pod.

Usage:
  secrets-broker [serve]            serve the API on a Unix socket and loopback TCP (default)
  secrets-broker inject [-f FILE]   add the broker sidecar to Kubernetes manifests (see inject --help)
  secrets-broker version            print the version
  secrets-broker get|put|create|ls|rm|restore|watch ...
                                    read and write secrets over the socket (see VERB --help)
  secrets-broker --help             this text; 'serve --help' lists every option

`;

export function serveHelp(): string {
  const lines = [
    'Usage: secrets-broker serve',
    '',
    'Options come from, in increasing precedence: defaults, the config file named by',
    `${CONFIG_FILE_ENV} (JSON or YAML, with the nested keys below), and SECRETS_BROKER_* environment`,
    'variables. Unknown keys in the file and invalid values stop start-up with exit code 2.',
    '',
  ];
  for (const leaf of configLeaves()) {
    const fallback = leaf.fallbackEnv.length ? ` (or ${leaf.fallbackEnv.join(', ')})` : '';
    lines.push(`  ${leaf.key}`);
    lines.push(`      env: ${leaf.env}${fallback}`);
    lines.push(`      default: ${leaf.defaultText}; allowed: ${allowedValues(leaf.schema)}`);
    lines.push(`      ${leaf.description}`);
  }
  lines.push('', 'Signals: SIGTERM or SIGINT drain in-flight requests, release locks, remove the socket and exit 0.');
  return `${lines.join('\n')}\n`;
}
