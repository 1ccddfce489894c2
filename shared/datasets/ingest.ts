/**
 * The ingestion core, free of storage: reads an upload twice as a stream and sorts every row into accepted or
 * rejected. Pass 1 applies the per-row rules and records, per distinct normalised description, its label (see
 * DescriptionIndex); pass 2 reads again, and now knows which descriptions carry conflicting codes (every such
 * row is rejected, since no one of them is known to be right) and which row first carried each description (a
 * later row with the same description and label is a duplicate). Only pass 2 writes, so a file that turns out
 * unparseable in pass 1 leaves nothing behind.
 *
 * Memory: one record at a time, the description index (16 bytes a slot, at most 4 slots per distinct
 * description), and the class distribution; never the file.
 */
import { createHash } from 'node:crypto';
import type { Nomenclature } from '../hs/nomenclature';
import { csvLine } from './csv';
import { CONFLICTING, DescriptionIndex } from './description-index';
import { readSourceRows } from './rows';
import type { ByteOrTextChunks } from './text';
import type { DatasetFileFormat, RejectedRow, RejectReason, SourceRow } from './types';
import { validateFields, type RowRules, type ValidRow } from './validate';

/** Columns of a dataset version's `rows.csv`; `training/data/labelled-csv.ts` reads it as is. */
export const DATASET_COLUMNS = ['description', 'hs_code', 'label', 'status', 'id', 'date', 'origin'] as const;

export interface IngestInput {
  /** Opens the upload's bytes from the start. Called once per pass; both calls must give the same bytes. */
  readonly open: () => ByteOrTextChunks;
  readonly format: DatasetFileFormat;
  readonly nomenclature: Nomenclature;
  readonly rules: RowRules;
}

/** Where pass 2 writes. Returning a promise applies back-pressure. */
export interface IngestSinks {
  /** One line of the accepted rows' CSV, header first (written only when some row is accepted). */
  accepted(line: string): void | Promise<void>;
  /** One JSON line per rejected row, in row order. */
  rejected(line: string): void | Promise<void>;
}

export interface IngestSummary {
  readonly format: DatasetFileFormat;
  /** Data records read (CSV header and blank lines excluded). Always accepted + rejected. */
  readonly received: number;
  readonly accepted: number;
  readonly rejected: number;
  /** Rejected rows per reason (reasons that occurred only). */
  readonly rejectedByReason: Partial<Record<RejectReason, number>>;
  /** Accepted rows per training label, keys sorted. */
  readonly classDistribution: Record<string, number>;
  /** Accepted rows per label status (the unlisted-code policy's effect). */
  readonly statusCounts: Record<'listed' | 'mapped' | 'unlisted', number>;
  readonly distinctDescriptions: number;
  /** SHA-256 of the accepted rows' CSV bytes; undefined when nothing was accepted. */
  readonly contentSha256: string | undefined;
  /** Content-addressed dataset version (`ds-` + 20 hex digits of `contentSha256`). */
  readonly version: string | undefined;
  /** Bytes held by the description index at its largest. */
  readonly indexBytes: number;
}

export function versionOf(contentSha256: string): string {
  return `ds-${contentSha256.slice(0, 20)}`;
}

type Verdict = { ok: true; row: ValidRow } | { ok: false; rejected: RejectedRow };

function judgeRow(source: SourceRow, input: IngestInput): Verdict {
  if ('problem' in source) {
    return {
      ok: false,
      rejected: {
        row: source.row,
        line: source.line,
        reason: source.problem,
        detail: source.detail,
        raw: source.raw,
      },
    };
  }
  const verdict = validateFields(source.fields, input.nomenclature, input.rules);
  if (verdict.ok) return verdict;
  return {
    ok: false,
    rejected: {
      row: source.row,
      line: source.line,
      reason: verdict.reason,
      detail: verdict.detail,
      fields: source.fields,
    },
  };
}

export async function ingestUpload(input: IngestInput, sinks: IngestSinks): Promise<IngestSummary> {
  // Pass 1: per-row rules and the description index.
  const index = new DescriptionIndex();
  const labelIds = new Map<string, number>();
  let received = 0;
  for await (const source of readSourceRows(input.open(), input.format)) {
    received++;
    const verdict = judgeRow(source, input);
    if (!verdict.ok) continue;
    const key = verdict.row.labels.join(';');
    let labelId = labelIds.get(key);
    if (labelId === undefined) {
      labelId = labelIds.size;
      labelIds.set(key, labelId);
    }
    index.observe(verdict.row.normalised, labelId, source.row);
  }

  // Pass 2: final verdicts, in row order.
  const rejectedByReason: Partial<Record<RejectReason, number>> = {};
  const classCounts = new Map<string, number>();
  const statusCounts = { listed: 0, mapped: 0, unlisted: 0 };
  const digest = createHash('sha256');
  let accepted = 0;
  let rejected = 0;
  let seen = 0;
  const reject = async (row: RejectedRow): Promise<void> => {
    rejected++;
    rejectedByReason[row.reason] = (rejectedByReason[row.reason] ?? 0) + 1;
    await sinks.rejected(`${JSON.stringify(row)}\n`);
  };
  const accept = async (row: ValidRow): Promise<void> => {
    if (accepted === 0) {
      const header = csvLine(DATASET_COLUMNS);
      digest.update(header);
      await sinks.accepted(header);
    }
    accepted++;
    const label = row.labels[0]!;
    classCounts.set(label, (classCounts.get(label) ?? 0) + 1);
    statusCounts[row.status]++;
    const line = csvLine([
      row.description,
      row.hsCode,
      label,
      row.status,
      row.id ?? '',
      row.date ?? '',
      row.origin ?? '',
    ]);
    digest.update(line);
    await sinks.accepted(line);
  };
  for await (const source of readSourceRows(input.open(), input.format)) {
    seen++;
    const verdict = judgeRow(source, input);
    if (!verdict.ok) {
      await reject(verdict.rejected);
      continue;
    }
    const entry = index.lookup(verdict.row.normalised);
    if (entry === undefined)
      throw new Error(`row ${source.row}: not seen in the first pass; did the upload change?`);
    const fields = 'fields' in source ? source.fields : undefined;
    if (entry.labelId === CONFLICTING) {
      await reject({
        row: source.row,
        line: source.line,
        reason: 'conflicting-codes',
        detail: `the same description carries different codes in this file (first at row ${entry.firstRow})`,
        fields,
      });
    } else if (entry.firstRow !== source.row) {
      await reject({
        row: source.row,
        line: source.line,
        reason: 'duplicate',
        detail: `same description and code as row ${entry.firstRow}`,
        fields,
      });
    } else {
      await accept(verdict.row);
    }
  }
  if (seen !== received) {
    throw new Error(`the upload changed between passes: ${received} rows, then ${seen}`);
  }
  const contentSha256 = accepted > 0 ? digest.digest('hex') : undefined;
  return {
    format: input.format,
    received,
    accepted,
    rejected,
    rejectedByReason,
    classDistribution: Object.fromEntries(
      [...classCounts.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    ),
    statusCounts,
    distinctDescriptions: index.size,
    contentSha256,
    version: contentSha256 === undefined ? undefined : versionOf(contentSha256),
    indexBytes: index.byteLength,
  };
}
