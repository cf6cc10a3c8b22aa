/**
 * The `secrets-broker inject` command line: reads manifests from a file or stdin, writes them with the
 * broker sidecar added to stdout. Exit codes: 0 done, 2 invalid options, a missing or unreadable
 * input file or invalid manifests, 1 any other failure to read the input (nothing is written to
 * stdout then, so a pipe into `kubectl apply` applies nothing). Every failure is one line.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { BACKEND_NAMES, isBackendName } from '../backends/registry.js';
import { InjectError, type InjectOptions, injectSidecar } from './inject.js';
import { DEFAULT_CONFIG_MAP } from './sidecar-spec.js';

export interface InjectIo {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

const EXIT_OK = 0;
const EXIT_RUNTIME = 1;
const EXIT_USAGE = 2;
const HELP_HINT = "see 'secrets-broker inject --help'";

/** Why a named input file cannot be read, for the errors that mean the argument is wrong. */
const INPUT_FILE_PROBLEMS: Record<string, string> = {
  ENOENT: 'it does not exist',
  ENOTDIR: 'a part of its path is not a directory',
  EISDIR: 'it is a directory',
  EACCES: 'it is not readable by this user',
  EPERM: 'it is not readable by this user',
};

export const INJECT_USAGE = `Usage: secrets-broker inject [-f FILE | -f -] [options]

Adds the secrets-broker sidecar to every Deployment, StatefulSet, ReplicaSet, Job, CronJob and Pod
in the YAML documents read from FILE (stdin when FILE is '-' or -f is absent), also inside a List,
and writes them to stdout. Other documents pass through unchanged; injecting twice changes nothing.

  secrets-broker inject -f app.yaml | kubectl apply -f -
  kubectl get deploy -o yaml | secrets-broker inject | kubectl apply -f -

Options:
  -f, --filename FILE   manifests to read; '-' for stdin (the default)
      --image IMAGE     sidecar image (default: secrets-broker:<version>)
      --backend NAME    ${BACKEND_NAMES.join(', ')}: sets SECRETS_BROKER_BACKEND, over the config file
                        (vault also mounts a service-account token with audience 'vault')
      --config-map NAME ConfigMap whose config.yaml is the broker's config file
                        (default: ${DEFAULT_CONFIG_MAP}, as in the kustomize component)
      --no-config-map   no config file: configure the sidecar through its environment only
      --render-dir DIR  an in-memory volume for rendered files (the config's \`render\` entries),
                        writable by the sidecar, read-only in every app container
  -h, --help            show this help
`;

/**
 * Runs `inject` with the arguments after the command name and returns the exit code.
 * @example
 * process.exitCode = await runInjectCommand(['-f', 'app.yaml', '--backend', 'aws'], process);
 */
export async function runInjectCommand(argv: string[], io: InjectIo): Promise<number> {
  let parsed: ParsedArgs;
  try {
    parsed = parseInjectArgs(argv);
  } catch (err) {
    return fail(io, `${describeArgumentError(err)}; ${HELP_HINT}`, EXIT_USAGE);
  }
  if (parsed.help) {
    io.stdout.write(INJECT_USAGE);
    return EXIT_OK;
  }
  let input: string;
  try {
    input = parsed.file === '-' ? await readAll(io.stdin) : await readFile(parsed.file, 'utf8');
  } catch (err) {
    return failToRead(io, parsed.file, err);
  }
  try {
    io.stdout.write(await injectSidecar(input, parsed.options));
    return EXIT_OK;
  } catch (err) {
    if (err instanceof InjectError) return fail(io, `${describeInput(parsed.file)}: ${err.message}`, EXIT_USAGE);
    throw err;
  }
}

interface ParsedArgs {
  help: boolean;
  file: string;
  options: InjectOptions;
}

function parseInjectArgs(argv: string[]): ParsedArgs {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      filename: { type: 'string', short: 'f' },
      image: { type: 'string' },
      backend: { type: 'string' },
      'config-map': { type: 'string' },
      'no-config-map': { type: 'boolean' },
      'render-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (positionals.length > 0)
    throw new Error(`unexpected argument '${positionals[0]}': name the input file with -f FILE`);
  const backend = values.backend;
  if (backend !== undefined && !isBackendName(backend)) {
    throw new Error(`--backend must be one of ${BACKEND_NAMES.join(', ')}, not '${backend}'`);
  }
  if (values['config-map'] !== undefined && values['no-config-map']) {
    throw new Error('--config-map and --no-config-map exclude each other');
  }
  const options: InjectOptions = {
    ...(values.image !== undefined ? { image: values.image } : {}),
    ...(backend ? { backend } : {}),
    ...(values['no-config-map'] ? { configMap: null } : {}),
    ...(values['config-map'] !== undefined ? { configMap: values['config-map'] } : {}),
    ...(values['render-dir'] !== undefined ? { renderDir: values['render-dir'] } : {}),
  };
  return { help: values.help === true, file: values.filename ?? '-', options };
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function describeInput(file: string): string {
  return file === '-' ? 'stdin' : file;
}

/** Node's parser explains itself at length (positionals, '--'): one sentence naming the option is enough. */
function describeArgumentError(err: unknown): string {
  const { code, message } = err as NodeJS.ErrnoException;
  const option = /'([^']+)'/.exec(message)?.[1];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option) return `unknown option '${option}'`;
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const name = /--[a-z-]+/.exec(message)?.[0];
    if (name) return `option ${name} needs a value`;
  }
  return message.split('\n')[0] ?? message;
}

function failToRead(io: InjectIo, file: string, err: unknown): number {
  const code = (err as NodeJS.ErrnoException).code;
  const problem = code === undefined ? undefined : INPUT_FILE_PROBLEMS[code];
  if (problem !== undefined) return fail(io, `cannot read ${file} (-f): ${problem}`, EXIT_USAGE);
  return fail(io, `cannot read ${describeInput(file)}: ${code ?? (err as Error).message}`, EXIT_RUNTIME);
}

function fail(io: InjectIo, message: string, code: number): number {
  io.stderr.write(`secrets-broker inject: ${message}\n`);
  return code;
}
