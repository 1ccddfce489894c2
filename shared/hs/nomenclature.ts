/**
 * The Harmonized System 2022 nomenclature (chapters, headings, subheadings), loaded from the CSV that ships next
 * to this module. Source: the `datasets/harmonized-system` repository, Open Data Commons Public Domain Dedication
 * and License (ODC-PDDL). The file also lists chapter 99 / 9999 / 999999 ("commodities not specified according to
 * kind"), a statistical extension rather than WCO HS; it is kept because declarations do use it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { findProjectRoot } from '../project';

/** Digits of an HS level: chapter (2), heading (4), subheading (6). */
export type HsLevel = 2 | 4 | 6;

export interface NomenclatureEntry {
  /** 2, 4 or 6 digits. */
  readonly code: string;
  readonly level: HsLevel;
  readonly description: string;
  /** Code of the enclosing level; undefined for a chapter. */
  readonly parent: string | undefined;
  /** Roman numeral of the section (I..XXI), or 'TOTAL' for chapter 99. */
  readonly section: string;
}

export interface Nomenclature {
  /** The entry of a listed 2/4/6-digit code. */
  entry(code: string): NomenclatureEntry | undefined;
  /** Official description of a listed 2/4/6-digit code. */
  describe(code: string): string | undefined;
  /** The code's entry followed by its ancestors up to the chapter; empty when the code is not listed. */
  parentChain(code: string): NomenclatureEntry[];
  /** Whether `code` is listed; with `level`, also whether it has that many digits. */
  isValid(code: string, level?: HsLevel): boolean;
  /** Every listed HS6 subheading, sorted. */
  hs6Codes(): readonly string[];
  /** Listed HS6 subheadings of a heading, sorted (empty when the heading is not listed). */
  subheadingsOf(heading: string): readonly string[];
  /** The 4-digit heading of a code of 4 or more digits, when that heading is listed. */
  headingOf(code: string): string | undefined;
  /** The 2-digit chapter of a code of 2 or more digits, when that chapter is listed. */
  chapterOf(code: string): string | undefined;
  /** Counts per level, for reports and sanity checks. */
  readonly counts: Readonly<Record<HsLevel, number>>;
}

const NOMENCLATURE_FILE = join('shared', 'hs', 'hs2022-nomenclature.csv');

interface NomenclatureCsvRow {
  section: string;
  hscode: string;
  description: string;
  parent: string;
  level: string;
}

/** Parses the nomenclature CSV text (columns section, hscode, description, parent, level). */
export function parseNomenclature(csvText: string): Nomenclature {
  const rows = parse<NomenclatureCsvRow>(csvText, { columns: true, skip_empty_lines: true, trim: true });
  const columns = rows[0] ? Object.keys(rows[0]) : [];
  for (const column of ['section', 'hscode', 'description', 'parent', 'level']) {
    if (!columns.includes(column)) throw new Error(`nomenclature CSV lacks column '${column}'`);
  }
  const entries = new Map<string, NomenclatureEntry>();
  const subheadingsByHeading = new Map<string, string[]>();
  for (const [index, row] of rows.entries()) {
    // Level 5 is the file's single 'TOTAL' root, which is no HS code.
    if (row.level === '5') continue;
    const level = Number(row.level);
    if (
      (level !== 2 && level !== 4 && level !== 6) ||
      !/^\d+$/.test(row.hscode) ||
      row.hscode.length !== level
    ) {
      throw new Error(`nomenclature row ${index + 2}: bad code '${row.hscode}' at level '${row.level}'`);
    }
    if (entries.has(row.hscode))
      throw new Error(`nomenclature row ${index + 2}: duplicate code ${row.hscode}`);
    entries.set(row.hscode, {
      code: row.hscode,
      level,
      description: row.description,
      parent: level === 2 ? undefined : row.parent,
      section: row.section,
    });
    if (level === 6) {
      const heading = row.hscode.slice(0, 4);
      const list = subheadingsByHeading.get(heading) ?? [];
      list.push(row.hscode);
      subheadingsByHeading.set(heading, list);
    }
  }
  for (const entry of entries.values()) {
    if (entry.parent !== undefined && !entries.has(entry.parent)) {
      throw new Error(`nomenclature: ${entry.code} names parent ${entry.parent}, which is not listed`);
    }
  }
  for (const list of subheadingsByHeading.values()) list.sort();
  const hs6 = [...entries.values()].filter((e) => e.level === 6).map((e) => e.code);
  hs6.sort();
  const counts: Record<HsLevel, number> = { 2: 0, 4: 0, 6: 0 };
  for (const entry of entries.values()) counts[entry.level]++;
  const noSubheadings: readonly string[] = Object.freeze([]);

  const prefixIfListed = (code: string, digits: 2 | 4): string | undefined => {
    if (code.length < digits) return undefined;
    const prefix = code.slice(0, digits);
    return entries.has(prefix) ? prefix : undefined;
  };

  return {
    entry: (code) => entries.get(code),
    describe: (code) => entries.get(code)?.description,
    parentChain: (code) => {
      const chain: NomenclatureEntry[] = [];
      for (
        let entry = entries.get(code);
        entry;
        entry = entry.parent ? entries.get(entry.parent) : undefined
      ) {
        chain.push(entry);
      }
      return chain;
    },
    isValid: (code, level) => {
      const entry = entries.get(code);
      return entry !== undefined && (level === undefined || entry.level === level);
    },
    hs6Codes: () => hs6,
    subheadingsOf: (heading) => subheadingsByHeading.get(heading) ?? noSubheadings,
    headingOf: (code) => prefixIfListed(code, 4),
    chapterOf: (code) => prefixIfListed(code, 2),
    counts: Object.freeze(counts),
  };
}

export { findProjectRoot };

/** Path of the shipped HS 2022 nomenclature CSV. */
export function nomenclaturePath(): string {
  return join(findProjectRoot(), NOMENCLATURE_FILE);
}

let cached: Nomenclature | undefined;

/** The shipped HS 2022 nomenclature, parsed once per process. */
export function loadNomenclature(): Nomenclature {
  cached ??= parseNomenclature(readFileSync(nomenclaturePath(), 'utf8'));
  return cached;
}
