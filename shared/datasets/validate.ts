/**
 * Row rules that need only the row itself: description present and not over-long, code well-formed and in the
 * nomenclature (through shared/hs's label policy), optional fields sane. Duplicates and conflicting codes need
 * the whole file and are judged in ingest.ts.
 */
import { toCellLabels, type LabelOptions, type LabelStatus } from '../hs/labels';
import type { Nomenclature } from '../hs/nomenclature';
import type { RejectReason, SourceFields } from './types';

export interface RowRules {
  /** Longest description, in characters (Unicode code points) after whitespace is collapsed. */
  readonly maxDescriptionLength: number;
  /** Longest `id` / `origin`, in characters. Default 256. */
  readonly maxFieldLength?: number;
  /** How declared codes become labels (HS6, policy for unlisted codes). */
  readonly labels: LabelOptions;
}

/** A row that passed the per-row rules, in the form the dataset stores. */
export interface ValidRow {
  /** Trimmed, whitespace runs (line breaks included) collapsed to one space; case kept. */
  readonly description: string;
  /** The key for duplicate and conflict checks (see `normaliseDescription`). */
  readonly normalised: string;
  /** The accepted codes of the cell, digits only, ';'-separated. */
  readonly hsCode: string;
  /** Distinct labels, sorted; the first is the training label (as `training/data/labelled-csv.ts` picks it). */
  readonly labels: readonly string[];
  /** Status of the training label under the label policy. */
  readonly status: LabelStatus;
  readonly id?: string;
  readonly date?: string;
  readonly origin?: string;
}

export type RowVerdict =
  | { readonly ok: true; readonly row: ValidRow }
  | { readonly ok: false; readonly reason: RejectReason; readonly detail: string };

/** Text the same for duplicate detection: Unicode compatibility form, lower case, single spaces. */
export function normaliseDescription(description: string): string {
  return collapseWhitespace(description.normalize('NFKC').toLowerCase());
}

function collapseWhitespace(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

const FORMAT_REASONS = new Set(['empty', 'non-numeric', 'odd-length', 'too-short']);
const DEFAULT_MAX_FIELD_LENGTH = 256;

export function validateFields(
  fields: SourceFields,
  nomenclature: Nomenclature,
  rules: RowRules,
): RowVerdict {
  const description = collapseWhitespace(fields.description);
  if (description === '')
    return { ok: false, reason: 'empty-description', detail: 'the description is empty' };
  if (description.length > rules.maxDescriptionLength) {
    const characters = [...description].length;
    if (characters > rules.maxDescriptionLength) {
      return {
        ok: false,
        reason: 'description-too-long',
        detail: `${characters} characters, the limit is ${rules.maxDescriptionLength}`,
      };
    }
  }
  const cell = toCellLabels(fields.hs_code, nomenclature, rules.labels);
  if (cell.labels.length === 0) {
    const failed = cell.results.find((result) => !result.ok);
    const why = failed !== undefined && !failed.ok ? failed.reason : 'empty';
    return {
      ok: false,
      reason: FORMAT_REASONS.has(why) ? 'invalid-hs-code-format' : 'hs-code-not-in-nomenclature',
      detail: `${why}: '${fields.hs_code.slice(0, 100)}'`,
    };
  }
  const maxFieldLength = rules.maxFieldLength ?? DEFAULT_MAX_FIELD_LENGTH;
  for (const name of ['id', 'origin', 'date'] as const) {
    const value = fields[name];
    if (value !== undefined && value.length > maxFieldLength) {
      return {
        ok: false,
        reason: 'field-too-long',
        detail: `'${name}' is ${value.length} characters, the limit is ${maxFieldLength}`,
      };
    }
  }
  if (fields.date !== undefined && !isCalendarDate(fields.date)) {
    return {
      ok: false,
      reason: 'invalid-date',
      detail: `'${fields.date.slice(0, 40)}' is not an ISO 8601 date (YYYY-MM-DD...)`,
    };
  }
  const training = cell.results.find((result) => result.ok && result.label === cell.labels[0]);
  // labels[0] comes from an accepted result, so this only fails if toCellLabels changes its contract.
  if (training === undefined || !training.ok)
    throw new Error('toCellLabels: first label has no accepted code');
  const accepted = cell.results.flatMap((result) => (result.ok ? [result.code] : []));
  return {
    ok: true,
    row: {
      description,
      normalised: normaliseDescription(description),
      hsCode: accepted.join(';'),
      labels: cell.labels,
      status: training.status,
      ...(fields.id === undefined ? {} : { id: fields.id }),
      ...(fields.date === undefined ? {} : { date: fields.date }),
      ...(fields.origin === undefined ? {} : { origin: fields.origin }),
    },
  };
}

/** `YYYY-MM-DD`, optionally followed by an ISO time, naming a real calendar day. */
function isCalendarDate(text: string): boolean {
  const match = /^(\d{4})-(\d{2})-(\d{2})(?:[T ][0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$/.exec(text);
  if (match === null) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}
