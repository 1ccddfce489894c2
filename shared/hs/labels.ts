/**
 * Turning declared customs codes into class labels.
 *
 * Policy for codes the HS 2022 nomenclature does not list (measured on the 43,744-line development file):
 * - 1,252 lines (2.9 %) carry 72 distinct HS6 codes (of 2,372) that HS 2022 does not list. None is a typo or a
 *   short code: every cell is a clean 10-digit national code and there are no multi-code cells. They are codes of
 *   earlier HS editions that HS 2022 split or moved: 3822.00 (372 lines, the 13th largest class), 2710.11 (108),
 *   9405.40 (100), 3402.20 (98), 8517.12 (55), 9405.10 (51), ...
 * - 1,247 of those lines keep a listed heading; only 3 lines (8548.90) have a heading with a single HS 2022
 *   subheading (8548.00), so only they can be mapped without guessing. 5 lines (8803.10) sit under a heading HS
 *   2022 deleted.
 * - The file never uses the HS 2022 successors of the big ones (no 3822.11-3822.90 at all): the data is coded
 *   against the earlier edition there, so the old code is the consistent label, and rejecting would delete a
 *   top-15 class while mapping to one of several successors would be a guess.
 * Default ('keep'): a listed code is used as is; an unlisted HS6 whose heading has exactly one HS 2022
 * subheading is mapped to it ('mapped'); any other unlisted code under a listed heading is kept as its own label
 * with status 'unlisted' (serving must send such predictions to review, since the code cannot be filed under HS
 * 2022); a code under an unlisted heading is rejected. 'map-or-reject' and 'reject' are stricter options.
 */
import type { Nomenclature } from './nomenclature';

/** Digits in a label: heading (4), HS6 (6), or a national extension (8, 10; validated on their HS6 prefix). */
export type LabelLevel = 4 | 6 | 8 | 10;

/** What to do with a code whose HS6 (or heading, at level 4) the nomenclature does not list. */
export type UnlistedCodePolicy = 'keep' | 'map-or-reject' | 'reject';

export interface LabelOptions {
  /** Digits in a label. Default 6. */
  level?: LabelLevel;
  /** Policy for codes the nomenclature does not list. Default 'keep' (see the module comment). */
  unlistedPolicy?: UnlistedCodePolicy;
}

export type LabelRejectReason =
  | 'empty'
  | 'non-numeric'
  | 'odd-length'
  | 'too-short'
  | 'unknown-chapter'
  | 'unknown-heading'
  | 'unlisted-code';

/** 'listed': in HS 2022; 'mapped': replaced by the only HS 2022 subheading of its heading; 'unlisted': kept. */
export type LabelStatus = 'listed' | 'mapped' | 'unlisted';

export type LabelResult =
  | { readonly ok: true; readonly label: string; readonly status: LabelStatus; readonly code: string }
  | { readonly ok: false; readonly reason: LabelRejectReason; readonly code: string };

/**
 * Strips spaces and dots ("3924.10.00 00" → "3924100000"). Returns undefined when anything but digits is left,
 * since a silently dropped letter could turn one code into another.
 */
export function normaliseCode(raw: string): string | undefined {
  const compact = raw.replace(/[\s.]/g, '');
  return /^\d+$/.test(compact) ? compact : undefined;
}

/** Normalises one declared code and turns it into a label at the configured level. */
export function toLabel(raw: string, nomenclature: Nomenclature, options: LabelOptions = {}): LabelResult {
  const level = options.level ?? 6;
  const policy = options.unlistedPolicy ?? 'keep';
  const trimmed = raw.trim();
  if (trimmed === '') return { ok: false, reason: 'empty', code: raw };
  const code = normaliseCode(trimmed);
  if (code === undefined) return { ok: false, reason: 'non-numeric', code: raw };
  // HS and national codes have even lengths; an odd one almost always lost its leading zero in a spreadsheet,
  // and reading it as is would shift every digit into a different (often valid) code.
  if (code.length % 2 === 1) return { ok: false, reason: 'odd-length', code };
  if (code.length < level) return { ok: false, reason: 'too-short', code };
  const label = code.slice(0, level);
  if (nomenclature.chapterOf(label) === undefined) return { ok: false, reason: 'unknown-chapter', code };
  if (level === 4) {
    if (nomenclature.isValid(label, 4)) return { ok: true, label, status: 'listed', code };
    if (policy === 'keep') return { ok: true, label, status: 'unlisted', code };
    return { ok: false, reason: 'unknown-heading', code };
  }
  const hs6 = label.slice(0, 6);
  if (nomenclature.isValid(hs6, 6)) return { ok: true, label, status: 'listed', code };
  const heading = nomenclature.headingOf(hs6);
  if (heading === undefined) return { ok: false, reason: 'unknown-heading', code };
  if (policy === 'reject') return { ok: false, reason: 'unlisted-code', code };
  const successors = nomenclature.subheadingsOf(heading);
  // A national suffix means nothing under a different HS6, so mapping is an HS6-level operation only.
  if (level === 6 && successors.length === 1)
    return { ok: true, label: successors[0]!, status: 'mapped', code };
  if (policy === 'keep') return { ok: true, label, status: 'unlisted', code };
  return { ok: false, reason: 'unlisted-code', code };
}

export interface CellLabels {
  /** Distinct accepted labels, sorted; the first is the training label (as the peers choose it). */
  readonly labels: readonly string[];
  /** Results of every code in the cell, in cell order. */
  readonly results: readonly LabelResult[];
}

/**
 * Labels of one `hs_code` cell, which may hold several codes separated by ';' (any of them is a correct answer,
 * as in the peers' evaluation). The training label is the smallest accepted one, as the peers pick it.
 */
export function toCellLabels(
  cell: string,
  nomenclature: Nomenclature,
  options: LabelOptions = {},
): CellLabels {
  const results = cell.split(';').map((part) => toLabel(part, nomenclature, options));
  const accepted = new Set<string>();
  for (const result of results) if (result.ok) accepted.add(result.label);
  return { labels: [...accepted].sort(), results };
}

/**
 * A readable description of a label for explanations and reports: the HS6 (or heading) text when listed; for an
 * unlisted label, its heading's text marked as such, so nobody mistakes an old code for a valid HS 2022 one.
 */
export function describeLabel(label: string, nomenclature: Nomenclature): string | undefined {
  const own = nomenclature.describe(label.slice(0, Math.min(label.length, 6)));
  if (own !== undefined) return own;
  const heading = nomenclature.describe(label.slice(0, 4));
  if (heading !== undefined) return `${heading} (code ${label} is not listed in HS 2022)`;
  const chapter = nomenclature.describe(label.slice(0, 2));
  return chapter === undefined ? undefined : `${chapter} (code ${label} is not listed in HS 2022)`;
}
