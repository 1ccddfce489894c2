/** Nearest-rank percentile (p in 0–100) of ascending values, as the benchmarks report latencies; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted.length === 0
    ? NaN
    : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
