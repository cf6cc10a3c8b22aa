/**
 * Splits a YAML stream into its documents while keeping every byte of the source: comments,
 * directives, markers and formatting between and inside documents. `inject` rewrites only the
 * documents it changes and copies the rest of the stream as it came.
 */
import { CST, type Document, Parser, parseAllDocuments } from 'yaml';
import { InjectError } from './inject-error.js';

/** A stretch of the stream: a document, or what lies between documents (comments, directives). */
export type StreamPart =
  | { kind: 'text'; source: string }
  | {
      kind: 'document';
      /** Exactly as in the input, `---` marker included when there was one. */
      source: string;
      /** Whether the source starts with a `---` marker. */
      hasMarker: boolean;
      /** The parsed value (`null` for an empty document). */
      value: unknown;
      /** 1-based position among the documents, for messages. */
      number: number;
    };

/**
 * Parses `text` into stream parts whose sources, joined, give back `text`.
 * @throws InjectError naming the document and line of the first YAML error.
 */
export function splitYamlStream(text: string): StreamPart[] {
  // Merge keys (`<<`) as kubectl reads them (YAML 1.1), so that what is injected matches what is applied.
  const documents = parseAllDocuments(text, { merge: true }) as unknown as Document[];
  const byOffset = new Map<number, Document>();
  documents.forEach((doc, index) => {
    const error = doc.errors[0];
    if (error) throw new InjectError(`invalid YAML in document ${index + 1}: ${oneLine(error.message)}`);
    if (doc.range) byOffset.set(doc.range[0], doc);
  });
  const parts: StreamPart[] = [];
  let number = 0;
  for (const token of new Parser().parse(text)) {
    const source = CST.stringify(token);
    if (token.type !== 'document') {
      parts.push({ kind: 'text', source });
      continue;
    }
    number += 1;
    const doc = byOffset.get(token.offset);
    if (!doc) throw new InjectError(`document ${number} could not be read as YAML`);
    parts.push({ kind: 'document', source, hasMarker: source.startsWith('---'), value: doc.toJS(), number });
  }
  if (parts.map((p) => p.source).join('') !== text) {
    // Never emit a stream that silently lost a byte: refuse instead.
    throw new InjectError('the YAML stream could not be split into documents without altering it');
  }
  return parts;
}

/**
 * The first line of a parser message, which says where ("at line 3, column 1"): the rest repeats
 * the source with a caret, and the colon that introduced it goes with it.
 */
function oneLine(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/:\s*$/, '');
}
