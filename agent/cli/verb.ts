/**
 * What every client verb declares (its arguments, options and help) and the strict argument
 * parsing they share, whose failures become one-sentence usage messages naming the argument.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { SecretsBrokerClient } from '../client/index.js';

export interface VerbIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

export interface OptionSpec {
  type: 'boolean' | 'string';
  multiple?: boolean;
  /** The placeholder in help, for string options. */
  placeholder?: string;
  help: string;
}

export type OptionValues = ReturnType<typeof parseArgs>['values'];

export interface VerbContext {
  client: SecretsBrokerClient;
  /** Positional arguments by their names in `arguments`; absent optional ones are undefined. */
  args: Record<string, string | undefined>;
  options: OptionValues;
  io: VerbIo;
  signal: AbortSignal;
}

export interface Verb {
  name: string;
  /** Positional arguments in order; `optional` ones may be left out. */
  arguments: { name: string; optional?: boolean }[];
  summary: string;
  options: Record<string, OptionSpec>;
  /** Runs until Ctrl-C or SIGTERM, which end it with exit code 0 (other verbs die of the signal). */
  untilInterrupted?: boolean;
  run(context: VerbContext): Promise<void>;
}

/** A mistake in how a verb was called: exit code 2, the message on stderr. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface ParsedVerbArgs {
  help: boolean;
  args: Record<string, string | undefined>;
  options: OptionValues;
}

export function parseVerbArgs(verb: Verb, argv: string[]): ParsedVerbArgs {
  const options: ParseArgsConfig['options'] = { help: { type: 'boolean', short: 'h' } };
  for (const [name, spec] of Object.entries(verb.options))
    options[name] = { type: spec.type, multiple: spec.multiple === true };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (!code?.startsWith('ERR_PARSE_ARGS_')) throw err;
    throw new UsageError(usageMessage(err as NodeJS.ErrnoException));
  }
  const { help, ...values } = parsed.values;
  if (help) return { help: true, args: {}, options: values };
  const args: Record<string, string | undefined> = {};
  verb.arguments.forEach(({ name, optional }, index) => {
    args[name] = parsed.positionals[index];
    if (args[name] === undefined && !optional) throw new UsageError(`missing the ${name} argument`);
  });
  const extra = parsed.positionals[verb.arguments.length];
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
  return { help: false, args, options: values };
}

/** parseArgs' messages are long and name Node's own syntax; ours name the argument in one sentence. */
function usageMessage(err: NodeJS.ErrnoException): string {
  const option = /'(-{1,2}[^' ]+)/.exec(err.message)?.[1] ?? 'an option';
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option '${option}'`;
  if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    return /does not take/.test(err.message) ? `option '${option}' takes no value` : `option '${option}' needs a value`;
  }
  return `invalid arguments near '${option}'`;
}

export function verbHelp(verb: Verb): string {
  const synopsis = [
    `secrets-broker ${verb.name}`,
    ...verb.arguments.map(({ name, optional }) => (optional ? `[${name}]` : name)),
    ...(Object.keys(verb.options).length ? ['[options]'] : []),
  ].join(' ');
  const rows: [string, string][] = Object.entries(verb.options).map(([name, spec]) => [
    `--${name}${spec.placeholder ? ` ${spec.placeholder}` : ''}`,
    spec.help + (spec.multiple ? ' (repeatable)' : ''),
  ]);
  rows.push(['-h, --help', 'show this help']);
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return [
    `Usage: ${synopsis}`,
    '',
    verb.summary,
    '',
    'Options:',
    ...rows.map(([left, text]) => `  ${left.padEnd(width)}${text}`),
    '',
    'The broker is reached on SECRETS_BROKER_SOCKET (default .secrets-broker/broker.sock) with the token in',
    'SECRETS_BROKER_TOKEN_FILE (default: token beside the socket). A value starting with - goes after --.',
    'Exit codes: 0 done, 1 the API or the connection failed (the reason on stderr), 2 usage error.',
    '',
  ].join('\n');
}
