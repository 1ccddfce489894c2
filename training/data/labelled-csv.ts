/**
 * Reads `description,hs_code` CSV (the ingest and training format) into texts, integer labels and a label set,
 * one record at a time, so a large upload never has to sit in memory as text.
 */
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import { toCellLabels, type LabelOptions, type LabelRejectReason } from '../../shared/hs/labels';
import type { Nomenclature } from '../../shared/hs/nomenclature';

export type RowRejectReason =
  LabelRejectReason | 'empty-description' | 'label-not-in-label-set' | 'malformed-row';

export interface RejectedRow {
  /** 1-based record number after the header (not a line number: quoted fields may span lines). */
  readonly row: number;
  readonly reason: RowRejectReason;
  /** The offending value, for the quarantine record. */
  readonly value: string;
}

export interface LabelledDataset {
  readonly texts: string[];
  /** Label index of each text (into `labelSet`). */
  readonly labels: Int32Array;
  /** Label index → code. */
  readonly labelSet: string[];
  /** Every accepted label of rows whose cell held more than one code (row index → label indices). */
  readonly alternatives: Map<number, Int32Array>;
  /** Count of accepted rows per label status ('listed', 'mapped', 'unlisted'): the label policy's effect. */
  readonly statusCounts: Record<'listed' | 'mapped' | 'unlisted', number>;
  readonly rejected: RejectedRow[];
}

export interface ReadLabelledCsvOptions {
  /** How codes become labels (level, policy for unlisted codes). Default: HS6, 'keep'. */
  labels?: LabelOptions;
  /**
   * Label set to index against (a trained model's classes). Default: none, the set is built from the data and
   * sorted. With a fixed set, `unseenLabels` decides what happens to labels outside it.
   */
  labelSet?: readonly string[];
  /**
   * With a fixed `labelSet`: 'append' (default) adds unseen labels after the model's classes, so evaluation can
   * count those rows as errors rather than silently dropping them; 'reject' quarantines the rows.
   */
  unseenLabels?: 'append' | 'reject';
}

/** Reads a labelled CSV from a path, a stream or an in-memory string. */
export async function readLabelledCsv(
  source: string | Readable,
  nomenclature: Nomenclature,
  options: ReadLabelledCsvOptions = {},
): Promise<LabelledDataset> {
  const input = typeof source === 'string' ? createReadStream(source) : source;
  return readRecords(input, nomenclature, options);
}

/** Same as `readLabelledCsv` over CSV text (tests, small uploads). */
export async function parseLabelledCsv(
  csvText: string,
  nomenclature: Nomenclature,
  options: ReadLabelledCsvOptions = {},
): Promise<LabelledDataset> {
  return readRecords(Readable.from([csvText]), nomenclature, options);
}

async function readRecords(
  input: Readable,
  nomenclature: Nomenclature,
  options: ReadLabelledCsvOptions,
): Promise<LabelledDataset> {
  // Records come as arrays and the header is read here, so that a row with the wrong number of fields (an
  // unquoted comma in a description) is quarantined on its own instead of failing the whole file.
  const parser = parse({ bom: true, skip_empty_lines: true, relax_column_count: true });
  // pipe() does not forward source errors: without this a missing file would leave the loop waiting forever.
  input.on('error', (error: Error) => parser.destroy(error));
  input.pipe(parser);
  const fixed = options.labelSet !== undefined;
  const labelSet: string[] = fixed ? [...options.labelSet!] : [];
  const labelIndex = new Map<string, number>(labelSet.map((code, i) => [code, i]));
  const texts: string[] = [];
  const rowLabels: string[][] = [];
  const rejected: RejectedRow[] = [];
  const statusCounts = { listed: 0, mapped: 0, unlisted: 0 };
  let header: string[] | undefined;
  let descriptionColumn = -1;
  let codeColumn = -1;
  let row = 0;
  for await (const record of parser as AsyncIterable<string[]>) {
    if (header === undefined) {
      header = record.map((name) => name.trim());
      descriptionColumn = header.indexOf('description');
      codeColumn = header.indexOf('hs_code');
      if (descriptionColumn < 0 || codeColumn < 0) {
        throw new Error(`labelled CSV needs columns description and hs_code, found: ${header.join(', ')}`);
      }
      continue;
    }
    row++;
    const rawDescription = record[descriptionColumn];
    const rawCode = record[codeColumn];
    if (record.length !== header.length || rawDescription === undefined || rawCode === undefined) {
      rejected.push({ row, reason: 'malformed-row', value: record.join(',') });
      continue;
    }
    const description = rawDescription.trim();
    if (description === '') {
      rejected.push({ row, reason: 'empty-description', value: rawCode });
      continue;
    }
    const cell = toCellLabels(rawCode, nomenclature, options.labels);
    let labels = [...cell.labels];
    if (labels.length === 0) {
      const first = cell.results.find((r) => !r.ok);
      rejected.push({ row, reason: first && !first.ok ? first.reason : 'empty', value: rawCode });
      continue;
    }
    if (fixed && options.unseenLabels === 'reject') {
      labels = labels.filter((label) => labelIndex.has(label));
      if (labels.length === 0) {
        rejected.push({ row, reason: 'label-not-in-label-set', value: rawCode });
        continue;
      }
    }
    const training = cell.results.find((r) => r.ok && r.label === labels[0]);
    if (training?.ok) statusCounts[training.status]++;
    texts.push(description);
    rowLabels.push(labels);
    if (!fixed) for (const label of labels) if (!labelIndex.has(label)) labelIndex.set(label, -1);
  }
  if (header === undefined) throw new Error('labelled CSV is empty: no header row');
  if (!fixed) {
    // Sorted codes make the label set independent of row order, so two uploads with the same classes agree.
    labelSet.push(...[...labelIndex.keys()].sort());
    labelSet.forEach((code, i) => labelIndex.set(code, i));
  }
  const indexOf = (code: string): number => {
    let index = labelIndex.get(code);
    if (index === undefined) {
      index = labelSet.length;
      labelSet.push(code);
      labelIndex.set(code, index);
    }
    return index;
  };
  const labels = new Int32Array(rowLabels.length);
  const alternatives = new Map<number, Int32Array>();
  rowLabels.forEach((codes, i) => {
    labels[i] = indexOf(codes[0]!);
    if (codes.length > 1) alternatives.set(i, Int32Array.from(codes, indexOf));
  });
  return { texts, labels, labelSet, alternatives, statusCounts, rejected };
}
