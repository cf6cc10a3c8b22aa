/** The verbs that read: `get`, `ls`, `watch`. None of them writes a value anywhere but stdout. */

import { write, writeValue } from './value-io.js';
import type { Verb } from './verb.js';

const json = (value: unknown) => `${JSON.stringify(value)}\n`;

export const getVerb: Verb = {
  name: 'get',
  arguments: [{ name: 'ID' }],
  summary: 'Prints the value of secret ID alone on stdout (a binary value as raw bytes, or base64 on a terminal).',
  options: {
    json: { type: 'boolean', help: 'print the whole secret as JSON (value, version, metadata)' },
    version: { type: 'string', placeholder: 'V', help: 'read version V instead of the current one' },
    'no-cache': { type: 'boolean', help: "read from the backend, bypassing the broker's cache" },
  },
  async run({ client, args, options, io, signal }) {
    const secret = await client.get(args.ID as string, {
      version: options.version as string | undefined,
      noCache: options['no-cache'] === true,
      signal,
    });
    if (options.json) await write(io.stdout, json(secret));
    else await writeValue(io, secret);
  },
};

export const lsVerb: Verb = {
  name: 'ls',
  arguments: [{ name: 'FILTER', optional: true }],
  summary: 'Lists secret ids, one a line; FILTER is an RE2 regular expression searched in each id (^prod/).',
  options: {
    json: { type: 'boolean', help: "print each secret's metadata as one JSON object a line (never values)" },
  },
  async run({ client, args, options, io, signal }) {
    const filter = args.FILTER;
    for await (const item of client.list(filter === undefined ? {} : { filter }, { signal })) {
      await write(io.stdout, options.json ? json(item) : `${item.id}\n`);
    }
  },
};

export const watchVerb: Verb = {
  name: 'watch',
  arguments: [{ name: 'ID' }],
  summary: 'Prints a line with the version of secret ID each time it changes, until interrupted.',
  untilInterrupted: true,
  options: {
    json: { type: 'boolean', help: 'print each new version as the whole secret in JSON, value included' },
    since: { type: 'string', placeholder: 'V', help: 'report versions after V (default: after the current one)' },
  },
  async run({ client, args, options, io, signal }) {
    const since = options.since as string | undefined;
    for await (const secret of client.watch(args.ID as string, { signal, ...(since ? { since } : {}) })) {
      await write(io.stdout, options.json ? json(secret) : `${secret.version}\n`);
    }
  },
};
