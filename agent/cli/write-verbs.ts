/** The verbs that write: `create`, `put`, `rm`, `restore`. Each prints the new version, or nothing. */
import { readValue, write } from './value-io.js';
import { type OptionSpec, UsageError, type Verb } from './verb.js';

const base64Option: OptionSpec = {
  type: 'boolean',
  help: 'VALUE (or stdin) is base64 text of a binary value (stdin that is not UTF-8 is sent as binary anyway)',
};
const ifMatchOption: OptionSpec = {
  type: 'string',
  placeholder: 'V',
  help: 'only if the current version is V (else exit 1, precondition_failed)',
};
const valueArgument = { name: 'VALUE', optional: true };

export const createVerb: Verb = {
  name: 'create',
  arguments: [{ name: 'ID' }, valueArgument],
  summary:
    'Creates secret ID with VALUE, read from stdin when VALUE is absent or -, byte for byte; prints its version.',
  options: {
    description: { type: 'string', placeholder: 'TEXT', help: 'a description' },
    tag: { type: 'string', multiple: true, placeholder: 'KEY=VALUE', help: 'a tag' },
    base64: base64Option,
  },
  async run({ client, args, options, io, signal }) {
    const tags = parseTags(options.tag as string[] | undefined);
    const value = await readValue(io, 'create', args.VALUE, options.base64 === true);
    const description = options.description as string | undefined;
    const created = await client.create(
      { id: args.ID as string, ...value, ...(description !== undefined ? { description } : {}), ...tags },
      { signal },
    );
    await write(io.stdout, `${created.version}\n`);
  },
};

export const putVerb: Verb = {
  name: 'put',
  arguments: [{ name: 'ID' }, valueArgument],
  summary:
    'Replaces the value of secret ID with VALUE, read from stdin when absent or -, byte for byte; prints its version.',
  options: { 'if-match': ifMatchOption, base64: base64Option },
  async run({ client, args, options, io, signal }) {
    const value = await readValue(io, 'put', args.VALUE, options.base64 === true);
    const ifMatch = options['if-match'] as string | undefined;
    const updated = await client.put(args.ID as string, value, { signal, ...(ifMatch ? { ifMatch } : {}) });
    await write(io.stdout, `${updated.version}\n`);
  },
};

export const rmVerb: Verb = {
  name: 'rm',
  arguments: [{ name: 'ID' }],
  summary: 'Deletes secret ID, recoverably (see restore) unless --force.',
  options: {
    force: { type: 'boolean', help: 'delete permanently and free the id at once' },
    'if-match': ifMatchOption,
  },
  async run({ client, args, options, signal }) {
    const ifMatch = options['if-match'] as string | undefined;
    await client.delete(args.ID as string, { signal, force: options.force === true, ...(ifMatch ? { ifMatch } : {}) });
  },
};

export const restoreVerb: Verb = {
  name: 'restore',
  arguments: [{ name: 'ID' }],
  summary: 'Cancels the recoverable delete of secret ID; prints its version.',
  options: {},
  async run({ client, args, io, signal }) {
    const restored = await client.restore(args.ID as string, { signal });
    await write(io.stdout, `${restored.version}\n`);
  },
};

function parseTags(tags: string[] | undefined): { tags?: Record<string, string> } {
  if (!tags?.length) return {};
  const entries = tags.map((tag) => {
    const at = tag.indexOf('=');
    if (at < 1) throw new UsageError(`--tag '${tag}' must be KEY=VALUE`);
    return [tag.slice(0, at), tag.slice(at + 1)] as const;
  });
  return { tags: Object.fromEntries(entries) };
}
