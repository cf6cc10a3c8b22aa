/**
 * The client verbs of the command line (`get`, `put`, `create`, `ls`, `rm`, `restore`, `watch`),
 * all built on SecretsBrokerClient. Exit codes: 0 done, 1 an API or connection error (its detail on
 * stderr, one line), 2 a usage error (one sentence naming the argument).
 */
import { SecretsBrokerClient, SecretsBrokerError } from '../client/index.js';
import { getVerb, lsVerb, watchVerb } from './read-verbs.js';
import { parseVerbArgs, UsageError, type Verb, type VerbIo, verbHelp } from './verb.js';
import { createVerb, putVerb, restoreVerb, rmVerb } from './write-verbs.js';

const VERBS: ReadonlyMap<string, Verb> = new Map(
  [getVerb, putVerb, createVerb, lsVerb, rmVerb, restoreVerb, watchVerb].map((verb) => [verb.name, verb]),
);

const EXIT_OK = 0;
const EXIT_API = 1;
const EXIT_USAGE = 2;

/**
 * Runs one verb with the arguments after its name and returns the exit code.
 * @example
 * process.exitCode = await runClientVerb('get', ['prod/db/password'], process);
 */
export async function runClientVerb(name: string, argv: string[], io: VerbIo): Promise<number> {
  const verb = VERBS.get(name);
  if (!verb) throw new Error(`${name} is not a client verb`);
  // A reader that goes away (`ls | head`) ends the output, not the command.
  const ignoreClosedOutput = () => {};
  io.stdout.on('error', ignoreClosedOutput);
  const stop = new AbortController();
  const interrupt = () => stop.abort();
  if (verb.untilInterrupted) process.once('SIGINT', interrupt).once('SIGTERM', interrupt);
  const client = new SecretsBrokerClient({ env: io.env });
  try {
    return await runVerb(verb, argv, { client, io, signal: stop.signal });
  } finally {
    client.close();
    process.off('SIGINT', interrupt).off('SIGTERM', interrupt);
    io.stdout.off('error', ignoreClosedOutput);
  }
}

async function runVerb(
  verb: Verb,
  argv: string[],
  context: { client: SecretsBrokerClient; io: VerbIo; signal: AbortSignal },
): Promise<number> {
  const { io } = context;
  try {
    const parsed = parseVerbArgs(verb, argv);
    if (parsed.help) {
      io.stdout.write(verbHelp(verb));
      return EXIT_OK;
    }
    await verb.run({ ...context, args: parsed.args, options: parsed.options });
    return EXIT_OK;
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`secrets-broker ${verb.name}: ${err.message}; see 'secrets-broker ${verb.name} --help'.\n`);
      return EXIT_USAGE;
    }
    if (err instanceof SecretsBrokerError) {
      io.stderr.write(`secrets-broker ${verb.name}: ${oneLine(err.detail ?? err.message)} (${err.code})\n`);
      return EXIT_API;
    }
    if (context.signal.aborted || (err as NodeJS.ErrnoException).code === 'EPIPE') return EXIT_OK;
    throw err;
  }
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}
