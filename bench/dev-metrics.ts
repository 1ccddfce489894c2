/** Shared by the development benchmarks: CSV rows with HS6 label sets, and acc@k / oracle coverage. */
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';

export interface Row {
  description: string;
  codes: string[];
}

export function readRows(path: string): Row[] {
  const records = parse<Record<string, string>>(readFileSync(path, 'utf8'), {
    columns: true,
    skip_empty_lines: true,
  });
  return records.map((r) => ({
    description: r.description ?? '',
    codes: [...new Set((r.hs_code ?? '').split(';').map((c) => c.trim().slice(0, 6)))].sort(),
  }));
}

/** Indices of the k largest scores, best first (a linear pass: sorting 2,372 scores per item is slow). */
export function topK(scores: Float32Array, k: number): number[] {
  const best: number[] = [];
  for (let c = 0; c < scores.length; c++) {
    if (best.length === k && scores[c]! <= scores[best[k - 1]!]!) continue;
    let at = best.length === k ? k - 1 : best.length;
    while (at > 0 && scores[best[at - 1]!]! < scores[c]!) at--;
    best.splice(at, 0, c);
    if (best.length > k) best.pop();
  }
  return best;
}

/**
 * acc@1, acc@5 and coverage at 95 / 98 % precision with the threshold chosen on the test set itself (the
 * optimistic bound bench/PEERS.md uses for the peers). `scores` are logits or log-probabilities [items, classes].
 */
export function devMetrics(
  scores: Float32Array,
  classes: number,
  classNames: readonly string[],
  testRows: readonly Row[],
): { acc1: number; acc5: number; coverage95: number; coverage98: number } {
  const logits = scores;
  let hit1 = 0;
  let hit5 = 0;
  const confidence = new Float64Array(testRows.length);
  const correct = new Uint8Array(testRows.length);
  testRows.forEach((row, i) => {
    const scores = logits.subarray(i * classes, (i + 1) * classes);
    const top = topK(scores, 5);
    let max = -Infinity;
    for (const s of scores) max = Math.max(max, s);
    let sum = 0;
    for (const s of scores) sum += Math.exp(s - max);
    confidence[i] = 1 / sum;
    const gold = new Set(row.codes);
    if (gold.has(classNames[top[0]!]!)) {
      hit1++;
      correct[i] = 1;
    }
    if (top.some((c) => gold.has(classNames[c]!))) hit5++;
  });
  const byConfidence = Array.from(confidence.keys()).sort((a, b) => confidence[b]! - confidence[a]!);
  const coverage = (target: number): number => {
    let hits = 0;
    let best = 0;
    byConfidence.forEach((i, rank) => {
      hits += correct[i]!;
      if (hits / (rank + 1) >= target) best = rank + 1;
    });
    return best / byConfidence.length;
  };
  return {
    acc1: +(hit1 / testRows.length).toFixed(4),
    acc5: +(hit5 / testRows.length).toFixed(4),
    coverage95: +coverage(0.95).toFixed(4),
    coverage98: +coverage(0.98).toFixed(4),
  };
}
