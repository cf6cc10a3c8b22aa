/** A manifest or an option that `inject` cannot work with; the message names the document and field. */
export class InjectError extends Error {
  override readonly name = 'InjectError';
}
