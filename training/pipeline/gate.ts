/**
 * The promotion gate: a candidate may become challenger only if, on the same held-out rows, it is not worse than
 * the champion beyond a stated tolerance, overall and in every large chapter. "Not worse" is judged on the paired
 * bootstrap interval of the accuracy difference: the lower bound must stay above −tolerance, so a candidate that
 * is only worse by noise passes and one that is clearly worse fails, however small the test set.
 */
import type { GateCheck } from '../../shared/pipelines/records';
import { pairedBootstrapAccuracyDifference } from '../evaluation/bootstrap';

export interface GatePolicy {
  /** Largest accepted accuracy drop overall (absolute). Default 0.01. */
  readonly overallTolerance: number;
  /** Largest accepted drop within a large chapter. Default 0.03. */
  readonly chapterTolerance: number;
  /** Test rows a chapter needs to be judged on its own. Default 200. */
  readonly largeChapterSupport: number;
  /** Two-sided level of the bootstrap interval. Default 0.95. */
  readonly confidence: number;
  /** Default 2000. */
  readonly resamples: number;
  /** Default 0. */
  readonly seed: number;
}

export const DEFAULT_GATE_POLICY: Readonly<GatePolicy> = Object.freeze({
  overallTolerance: 0.01,
  chapterTolerance: 0.03,
  largeChapterSupport: 200,
  confidence: 0.95,
  resamples: 2000,
  seed: 0,
});

export interface GateInput {
  /** Per test row: candidate top-1 correct. */
  readonly candidate: Uint8Array;
  /** Per test row: champion top-1 correct. */
  readonly champion: Uint8Array;
  /** Per test row: the true chapter (2 digits). */
  readonly chapters: readonly string[];
  /** A frozen golden set, scored by both, when one exists. */
  readonly golden?: { readonly candidate: Uint8Array; readonly champion: Uint8Array };
}

export function judge(
  name: string,
  candidate: Uint8Array,
  champion: Uint8Array,
  tolerance: number,
  policy: GatePolicy,
): GateCheck {
  const result = pairedBootstrapAccuracyDifference(champion, candidate, {
    resamples: policy.resamples,
    confidence: policy.confidence,
    seed: policy.seed,
  });
  return {
    name,
    support: candidate.length,
    difference: result.difference,
    lower: result.lower,
    upper: result.upper,
    tolerance,
    passed: result.lower >= -tolerance,
  };
}

export function gate(input: GateInput, policy: GatePolicy = DEFAULT_GATE_POLICY): GateCheck[] {
  const n = input.candidate.length;
  if (input.champion.length !== n || input.chapters.length !== n) {
    throw new Error('gate: candidate, champion and chapters must cover the same test rows');
  }
  const checks = [judge('overall', input.candidate, input.champion, policy.overallTolerance, policy)];
  const rowsByChapter = new Map<string, number[]>();
  input.chapters.forEach((chapter, row) => {
    const rows = rowsByChapter.get(chapter);
    if (rows) rows.push(row);
    else rowsByChapter.set(chapter, [row]);
  });
  for (const [chapter, rows] of [...rowsByChapter].sort(([a], [b]) => a.localeCompare(b))) {
    if (rows.length < policy.largeChapterSupport) continue;
    const pick = (values: Uint8Array): Uint8Array => Uint8Array.from(rows, (row) => values[row]!);
    checks.push(
      judge(
        `chapter ${chapter}`,
        pick(input.candidate),
        pick(input.champion),
        policy.chapterTolerance,
        policy,
      ),
    );
  }
  if (input.golden) {
    checks.push(
      judge('golden set', input.golden.candidate, input.golden.champion, policy.overallTolerance, policy),
    );
  }
  return checks;
}
