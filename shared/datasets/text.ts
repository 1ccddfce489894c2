/**
 * Decodes an upload's bytes as UTF-8 text chunk by chunk. Invalid UTF-8 means the file is not text (a
 * spreadsheet, an archive, another encoding): the whole file is quarantined rather than guessed at.
 */
import { UnparseableFileError } from './types';

export type ByteOrTextChunks = AsyncIterable<Uint8Array | string>;

export async function* decodeUtf8(chunks: ByteOrTextChunks): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  let bytesRead = 0;
  for await (const chunk of chunks) {
    if (typeof chunk === 'string') {
      yield chunk;
      continue;
    }
    let text: string;
    try {
      text = decoder.decode(chunk, { stream: true });
    } catch (error: unknown) {
      if (isInvalidEncoding(error)) {
        throw new UnparseableFileError(
          `not UTF-8 text (invalid byte sequence within bytes ${bytesRead}-${bytesRead + chunk.byteLength})`,
        );
      }
      throw error;
    }
    bytesRead += chunk.byteLength;
    if (text !== '') yield text;
  }
  let tail: string;
  try {
    tail = decoder.decode();
  } catch (error: unknown) {
    if (isInvalidEncoding(error))
      throw new UnparseableFileError('not UTF-8 text (truncated multi-byte sequence at the end)');
    throw error;
  }
  if (tail !== '') yield tail;
}

/** A NUL character never occurs in text files; seeing one means binary content. */
export function binaryContentError(line: number): UnparseableFileError {
  return new UnparseableFileError(`binary content: NUL character on line ${line}`);
}

/** Node's decoder error; matched by code since the TypeError may come from another realm (vm, jest). */
function isInvalidEncoding(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    'code' in error &&
    error.code === 'ERR_ENCODING_INVALID_ENCODED_DATA'
  );
}
