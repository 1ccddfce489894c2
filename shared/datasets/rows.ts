/**
 * Turns an upload's text into numbered `SourceRow`s, for CSV (header row naming the columns) and JSON Lines
 * (one object per line). Columns: `description` and `hs_code` required; `id`, `date`, `origin` optional; others
 * ignored. Throws `UnparseableFileError` when the file as a whole cannot be read (not UTF-8, binary, no header,
 * required columns missing, not a single JSON object in a JSON Lines file).
 */
import { readCsvRecords } from './csv';
import { binaryContentError, decodeUtf8, type ByteOrTextChunks } from './text';
import {
  MAX_RECORD_CHARS,
  RAW_PREVIEW_CHARS,
  UnparseableFileError,
  type DatasetFileFormat,
  type SourceFields,
  type SourceRow,
} from './types';

const REQUIRED_COLUMNS = ['description', 'hs_code'] as const;
const OPTIONAL_COLUMNS = ['id', 'date', 'origin'] as const;
type Column = (typeof REQUIRED_COLUMNS)[number] | (typeof OPTIONAL_COLUMNS)[number];

/** The format named by a blob's extension; undefined when the name says nothing. */
export function formatFromName(name: string): DatasetFileFormat | undefined {
  const lower = name.toLowerCase();
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson')) return 'jsonl';
  return undefined;
}

export interface ReadRowsOptions {
  /** Default `MAX_RECORD_CHARS`. */
  readonly maxRecordChars?: number;
}

/** Reads the rows of one upload; the bytes are consumed once, as a stream. */
export function readSourceRows(
  bytes: ByteOrTextChunks,
  format: DatasetFileFormat,
  options: ReadRowsOptions = {},
): AsyncGenerator<SourceRow> {
  const text = decodeUtf8(bytes);
  return format === 'csv' ? readCsvRows(text, options) : readJsonLinesRows(text, options);
}

async function* readCsvRows(
  text: AsyncIterable<string>,
  options: ReadRowsOptions,
): AsyncGenerator<SourceRow> {
  let columns: Map<Column, number> | undefined;
  let width = 0;
  let row = 0;
  for await (const record of readCsvRecords(text, options)) {
    if (columns === undefined) {
      if (!('fields' in record)) {
        throw new UnparseableFileError(
          `the header row (line ${record.line}) is unreadable: ${record.detail}`,
        );
      }
      columns = headerColumns(record.fields);
      width = record.fields.length;
      continue;
    }
    row++;
    if (!('fields' in record)) {
      yield { row, line: record.line, problem: record.problem, detail: record.detail, raw: record.raw };
      continue;
    }
    if (record.fields.length !== width) {
      yield {
        row,
        line: record.line,
        problem: 'wrong-field-count',
        detail: `${record.fields.length} fields, the header has ${width} (an unquoted comma?)`,
        raw: record.fields.join(',').slice(0, RAW_PREVIEW_CHARS),
      };
      continue;
    }
    const cell = (column: Column): string | undefined => {
      const index = columns!.get(column);
      return index === undefined ? undefined : record.fields[index];
    };
    yield { row, line: record.line, fields: fieldsOf(cell) };
  }
  if (columns === undefined) throw new UnparseableFileError('empty file: no header row');
}

function headerColumns(header: readonly string[]): Map<Column, number> {
  const names = header.map((name) => name.trim().toLowerCase());
  const columns = new Map<Column, number>();
  for (const column of [...REQUIRED_COLUMNS, ...OPTIONAL_COLUMNS]) {
    const first = names.indexOf(column);
    if (first < 0) continue;
    if (names.indexOf(column, first + 1) >= 0)
      throw new UnparseableFileError(`the header names column '${column}' twice`);
    columns.set(column, first);
  }
  const missing = REQUIRED_COLUMNS.filter((column) => !columns.has(column));
  if (missing.length > 0) {
    const shown = header.join(',').slice(0, 200);
    throw new UnparseableFileError(`the header lacks column(s) ${missing.join(', ')} (found: ${shown})`);
  }
  return columns;
}

function fieldsOf(cell: (column: Column) => string | undefined): SourceFields {
  const optional = (column: Column): Partial<Record<Column, string>> => {
    const value = cell(column)?.trim();
    return value === undefined || value === '' ? {} : { [column]: value };
  };
  return {
    description: cell('description') ?? '',
    hs_code: cell('hs_code') ?? '',
    ...optional('id'),
    ...optional('date'),
    ...optional('origin'),
  };
}

async function* readJsonLinesRows(
  text: AsyncIterable<string>,
  options: ReadRowsOptions,
): AsyncGenerator<SourceRow> {
  let row = 0;
  let objects = 0;
  for await (const { line, text: lineText, tooLong } of readLines(
    text,
    options.maxRecordChars ?? MAX_RECORD_CHARS,
  )) {
    const trimmed = lineText.trim();
    if (trimmed === '' && !tooLong) continue;
    row++;
    const raw = trimmed.slice(0, RAW_PREVIEW_CHARS);
    if (tooLong) {
      yield {
        row,
        line,
        problem: 'record-too-long',
        detail: `line longer than ${options.maxRecordChars ?? MAX_RECORD_CHARS} characters`,
        raw,
      };
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (error: unknown) {
      const message = error instanceof Error ? error.message : String(error);
      yield { row, line, problem: 'invalid-json', detail: message, raw };
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      yield {
        row,
        line,
        problem: 'not-an-object',
        detail: `a JSON ${Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value}, not an object`,
        raw,
      };
      continue;
    }
    objects++;
    const read = jsonFields(value as Record<string, unknown>);
    if ('problem' in read) yield { row, line, problem: read.problem, detail: read.detail, raw };
    else yield { row, line, fields: read };
  }
  if (row === 0) throw new UnparseableFileError('empty file: no JSON lines');
  if (objects === 0)
    throw new UnparseableFileError(`not JSON Lines: none of the ${row} non-blank line(s) is a JSON object`);
}

function jsonFields(
  object: Record<string, unknown>,
): SourceFields | { problem: 'missing-field' | 'bad-field-type'; detail: string } {
  const texts: Partial<Record<Column, string>> = {};
  for (const column of [...REQUIRED_COLUMNS, ...OPTIONAL_COLUMNS]) {
    const value = object[column];
    if (value === undefined || value === null) {
      if ((REQUIRED_COLUMNS as readonly string[]).includes(column)) {
        return { problem: 'missing-field', detail: `no '${column}'` };
      }
      continue;
    }
    // A numeric hs_code has lost any leading zero already; it is taken as written and the code checks judge it.
    if (typeof value === 'string') texts[column] = value;
    else if (typeof value === 'number' && Number.isFinite(value) && column !== 'description')
      texts[column] = String(value);
    else return { problem: 'bad-field-type', detail: `'${column}' is a ${typeof value}, expected a string` };
  }
  const optional = (column: Column): Partial<Record<Column, string>> => {
    const value = texts[column]?.trim();
    return value === undefined || value === '' ? {} : { [column]: value };
  };
  return {
    description: texts.description ?? '',
    hs_code: texts.hs_code ?? '',
    ...optional('id'),
    ...optional('date'),
    ...optional('origin'),
  };
}

/** Splits text into lines (LF or CRLF), keeping at most `maxChars` of each; longer lines are flagged. */
async function* readLines(
  text: AsyncIterable<string>,
  maxChars: number,
): AsyncGenerator<{ line: number; text: string; tooLong: boolean }> {
  let line = 1;
  let current = '';
  let tooLong = false;
  let first = true;
  const take = (piece: string): void => {
    if (tooLong) return;
    if (current.length + piece.length > maxChars) {
      current += piece.slice(0, maxChars - current.length);
      tooLong = true;
    } else current += piece;
  };
  for await (let chunk of text) {
    if (first && chunk.length > 0) {
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
      first = false;
    }
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf('\n', start);
      const piece = chunk.slice(start, newline < 0 ? chunk.length : newline);
      if (piece.includes('\0')) throw binaryContentError(line);
      take(piece);
      if (newline < 0) break;
      yield { line, text: current.endsWith('\r') ? current.slice(0, -1) : current, tooLong };
      line++;
      current = '';
      tooLong = false;
      start = newline + 1;
    }
  }
  if (current !== '' || tooLong) yield { line, text: current, tooLong };
}
