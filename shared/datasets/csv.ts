/**
 * A streaming CSV reader (RFC 4180 with the leniencies trader files need) that numbers every record and never
 * loses one: a record with broken quoting is reported as a bad record and reading resumes, so the count of
 * records read is always the count of records received.
 *
 * Rules: fields are separated by ',' and records by LF or CRLF; a field that starts with '"' is quoted ('""' is
 * a literal quote, line breaks allowed); a '"' inside an unquoted field is kept literally (inch marks: `3/4" PIPE`);
 * spaces after a closing quote are ignored; any other text after a closing quote makes the record bad and
 * reading resumes after the next line break; a record longer than `MAX_RECORD_CHARS` is bad and reading resumes
 * after the next line break; a quote still open at the end of the file makes the rest one bad record; blank lines
 * are skipped and not counted; a UTF-8 byte-order mark at the start is dropped.
 */
import { binaryContentError } from './text';
import { MAX_RECORD_CHARS, RAW_PREVIEW_CHARS, type RecordProblem } from './types';

export type CsvRecord =
  | { readonly line: number; readonly fields: string[] }
  | { readonly line: number; readonly problem: RecordProblem; readonly detail: string; readonly raw: string };

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const NUL = 0;

type State = 'fieldStart' | 'unquoted' | 'quoted' | 'quoteInQuoted' | 'afterQuote' | 'skipToLineEnd';

export interface CsvReaderOptions {
  /** Default `MAX_RECORD_CHARS`. */
  readonly maxRecordChars?: number;
}

export async function* readCsvRecords(
  text: AsyncIterable<string>,
  options: CsvReaderOptions = {},
): AsyncGenerator<CsvRecord> {
  const maxRecordChars = options.maxRecordChars ?? MAX_RECORD_CHARS;
  let state: State = 'fieldStart';
  let fields: string[] = [];
  let field = '';
  let raw = '';
  let recordChars = 0;
  let line = 1;
  let recordLine = 1;
  let anyQuote = false;
  let problem: { problem: RecordProblem; detail: string } | undefined;
  let first = true;

  const reset = (): void => {
    state = 'fieldStart';
    fields = [];
    field = '';
    raw = '';
    recordChars = 0;
    anyQuote = false;
    problem = undefined;
  };
  /** The record that ends here, or undefined for a blank line. */
  const finish = (): CsvRecord | undefined => {
    const startLine = recordLine;
    if (problem !== undefined) {
      const bad: CsvRecord = {
        line: startLine,
        problem: problem.problem,
        detail: problem.detail,
        raw: stripCr(raw),
      };
      reset();
      return bad;
    }
    fields.push(stripCr(field));
    const done = fields;
    const blank = done.length === 1 && done[0] === '' && !anyQuote;
    reset();
    return blank ? undefined : { line: startLine, fields: done };
  };

  for await (let chunk of text) {
    if (first && chunk.length > 0) {
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
      first = false;
    }
    for (let i = 0; i < chunk.length; i++) {
      // Fast path: a run of ordinary characters in an unquoted field is taken as one slice.
      const code = chunk.charCodeAt(i);
      const room = maxRecordChars - recordChars;
      if (
        room > 0 &&
        (state === 'unquoted' || (state === 'fieldStart' && code !== QUOTE)) &&
        code !== COMMA &&
        code !== LF &&
        code !== NUL
      ) {
        const limit = Math.min(chunk.length, i + room);
        let end = i + 1;
        for (; end < limit; end++) {
          const next = chunk.charCodeAt(end);
          if (next === COMMA || next === LF || next === NUL) break;
        }
        if (recordChars === 0) recordLine = line;
        const run = chunk.slice(i, end);
        recordChars += run.length;
        field += run;
        if (raw.length < RAW_PREVIEW_CHARS) raw += run.slice(0, RAW_PREVIEW_CHARS - raw.length);
        state = 'unquoted';
        i = end - 1;
        continue;
      }
      const c = chunk[i]!;
      if (c === '\0') throw binaryContentError(line);
      if (recordChars === 0) recordLine = line;
      recordChars++;
      if (raw.length < RAW_PREVIEW_CHARS) raw += c;
      if (c === '\n') line++;
      if (state !== 'skipToLineEnd' && recordChars > maxRecordChars) {
        problem = {
          problem: 'record-too-long',
          detail: `record longer than ${maxRecordChars} characters${state === 'quoted' ? ' (inside a quoted field: unbalanced quote?)' : ''}`,
        };
        state = 'skipToLineEnd';
      }
      if (state === 'quoteInQuoted') {
        if (c === '"') {
          field += '"';
          state = 'quoted';
          continue;
        }
        // The quote before this character closed the field; the character is read as what follows a field.
        state = 'afterQuote';
      }
      switch (state) {
        case 'skipToLineEnd':
          if (c === '\n') {
            const record = finish();
            if (record !== undefined) yield record;
          }
          break;
        case 'fieldStart':
        case 'unquoted':
          if (c === '"' && state === 'fieldStart') {
            state = 'quoted';
            anyQuote = true;
          } else if (c === ',') {
            fields.push(field);
            field = '';
            state = 'fieldStart';
          } else if (c === '\n') {
            const record = finish();
            if (record !== undefined) yield record;
          } else {
            field += c;
            state = 'unquoted';
          }
          break;
        case 'quoted':
          if (c === '"') state = 'quoteInQuoted';
          else field += c;
          break;
        case 'afterQuote':
          if (c === ',') {
            fields.push(field);
            field = '';
            state = 'fieldStart';
          } else if (c === '\n') {
            const record = finish();
            if (record !== undefined) yield record;
          } else if (c !== ' ' && c !== '\t' && c !== '\r') {
            problem = {
              problem: 'text-after-closing-quote',
              detail: `text after the closing quote of field ${fields.length + 1}`,
            };
            state = 'skipToLineEnd';
          }
          break;
      }
    }
  }
  if (state === 'quoted') {
    problem = {
      problem: 'unterminated-quote',
      detail: `quote opened in field ${fields.length + 1} is never closed (the rest of the file from line ${recordLine})`,
    };
  }
  if (recordChars > 0) {
    const record = finish();
    if (record !== undefined) yield record;
  }
}

function stripCr(text: string): string {
  return text.endsWith('\r') ? text.slice(0, -1) : text;
}

/** Encodes one field: quoted only when it must be, so plain rows stay readable. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) || value !== value.trim() || value.startsWith('"')
    ? `"${value.replace(/"/g, '""')}"`
    : value;
}

export function csvLine(values: readonly string[]): string {
  return `${values.map(csvField).join(',')}\n`;
}
