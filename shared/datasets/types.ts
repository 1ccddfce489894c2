/**
 * Shapes shared by the dataset parsers, the validator and the storage service.
 */

/** Upload formats: comma-separated values with a header row, or one JSON object per line. */
export type DatasetFileFormat = 'csv' | 'jsonl';

/** The fields of one labelled line, as read from either format (before validation). */
export interface SourceFields {
  readonly description: string;
  readonly hs_code: string;
  readonly id?: string;
  readonly date?: string;
  readonly origin?: string;
}

/** Why a record could not even be read as fields. */
export type RecordProblem =
  | 'unterminated-quote'
  | 'text-after-closing-quote'
  | 'record-too-long'
  | 'wrong-field-count'
  | 'invalid-json'
  | 'not-an-object'
  | 'missing-field'
  | 'bad-field-type';

/**
 * One data record of an upload, numbered. `row` is the 1-based record number after the CSV header (or the
 * 1-based number of the non-blank JSON line), counting bad records too, so that received = last `row`; `line` is
 * the 1-based physical line where the record starts, for people opening the file in an editor.
 */
export type SourceRow =
  | { readonly row: number; readonly line: number; readonly fields: SourceFields }
  | {
      readonly row: number;
      readonly line: number;
      readonly problem: RecordProblem;
      readonly detail: string;
      /** Start of the record's text, at most `RAW_PREVIEW_CHARS` characters. */
      readonly raw: string;
    };

/** Every reason a row can be quarantined for. */
export type RejectReason =
  | RecordProblem
  | 'empty-description'
  | 'description-too-long'
  | 'invalid-hs-code-format'
  | 'hs-code-not-in-nomenclature'
  | 'invalid-date'
  | 'field-too-long'
  | 'duplicate'
  | 'conflicting-codes';

export const REJECT_REASONS: readonly RejectReason[] = Object.freeze([
  'unterminated-quote',
  'text-after-closing-quote',
  'record-too-long',
  'wrong-field-count',
  'invalid-json',
  'not-an-object',
  'missing-field',
  'bad-field-type',
  'empty-description',
  'description-too-long',
  'invalid-hs-code-format',
  'hs-code-not-in-nomenclature',
  'invalid-date',
  'field-too-long',
  'duplicate',
  'conflicting-codes',
]);

/** A quarantined row: one JSON line of `quarantine/<ingestion>/rejected-rows.jsonl`. */
export interface RejectedRow {
  readonly row: number;
  readonly line: number;
  readonly reason: RejectReason;
  /** Human-readable specifics (the bad code, the row it duplicates, ...). */
  readonly detail: string;
  /** The fields as read, when the record could be read as fields. */
  readonly fields?: SourceFields;
  /** Start of the record's text, when it could not be read as fields. */
  readonly raw?: string;
}

/** Thrown when a file cannot be parsed at all: it is quarantined whole, with this message as the reason. */
export class UnparseableFileError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'UnparseableFileError';
  }
}

/** Characters of a bad record's text kept for the quarantine file. */
export const RAW_PREVIEW_CHARS = 1024;

/**
 * Longest record (CSV, quoted newlines included) or JSON line, in characters. It bounds the memory one record
 * can take: an unterminated quote in a 1 GB file must not become a 1 GB string. Beyond it, the record is
 * rejected and reading resumes at the next line break.
 */
export const MAX_RECORD_CHARS = 64 * 1024;
