/** How a value reaches a terminal, which the process tests (stdout always a pipe) cannot show. */
import { PassThrough } from 'node:stream';
import t from 'tap';
import { writeValue } from '../../agent/cli/value-io.js';
import type { VerbIo } from '../../agent/cli/verb.js';

function terminalIo(): { io: VerbIo; stdout: () => string; stderr: () => string } {
  const stdout = Object.assign(new PassThrough(), { isTTY: true });
  const stderr = new PassThrough();
  const io: VerbIo = { stdin: new PassThrough(), stdout, stderr, env: {} };
  return { io, stdout: () => String(stdout.read() ?? ''), stderr: () => String(stderr.read() ?? '') };
}

const secret = { id: 'k', version: '1', locked: false };

t.test('on a terminal a binary value is shown base64-encoded, with a notice on stderr', async (t) => {
  // Prepare
  const terminal = terminalIo();

  // Act
  await writeValue(terminal.io, { ...secret, encoding: 'base64', value: 'AP8=' });

  // Assess
  t.equal(terminal.stdout(), 'AP8=\n');
  t.match(terminal.stderr(), /^secrets-broker get: k is binary; printed base64-encoded/);
});

t.test('on a terminal a text value ends with a newline, and nothing goes to stderr', async (t) => {
  // Prepare
  const terminal = terminalIo();

  // Act
  await writeValue(terminal.io, { ...secret, encoding: 'utf8', value: 's3cret' });

  // Assess
  t.equal(terminal.stdout(), 's3cret\n');
  t.equal(terminal.stderr(), '');
});
