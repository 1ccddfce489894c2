/**
 * End-to-end behaviour of the decision under simulated feedback with known true accuracies, the decision taken
 * after EVERY batch exactly as the timer would. Seeds are fixed, so the rates are reproducible; the seed counts
 * keep the file within a few seconds (larger runs are reported in shared/experiments/README.md).
 */
import { decisionPolicy } from '../../../../shared/experiments/decision';
import { BASELINE, rates, simulateShadow, simulateSplit, type ModelTruth } from './simulate';

const BETTER: ModelTruth = { ...BASELINE, accuracy: 0.8 };
const WORSE: ModelTruth = { ...BASELINE, accuracy: 0.7 };
// Better, but its p95 latency is twice the champion's: far beyond the 50 ms allowance, and a blocker only.
const BETTER_BUT_SLOW: ModelTruth = { ...BETTER, medianLatencyMs: 80 };

describe('shadow mode (paired), batches of 20, decision after every batch', () => {
  const policy = decisionPolicy({ maxSamplesPerArm: 4000 });
  const run = (challenger: ModelTruth, offset: number) => (seed: number) =>
    simulateShadow(seed + offset, BASELINE, challenger, policy, { batchSize: 20 });

  test('a better challenger (0.80 vs 0.75) is promoted in at least 95 % of runs', () => {
    const result = rates(200, run(BETTER, 0));
    expect(result.promote).toBeGreaterThanOrEqual(0.95);
  });

  test('an equal challenger is wrongly promoted in at most 5 % of runs', () => {
    const result = rates(100, run(BASELINE, 1_000_000));
    expect(result.promote).toBeLessThanOrEqual(0.05);
  });

  test('a worse challenger (0.70) is never promoted and is rejected', () => {
    const result = rates(100, run(WORSE, 2_000_000));
    expect(result.promote).toBe(0);
    expect(result.reject).toBe(1);
  });

  test('a guardrail breach blocks promotion of a better challenger', () => {
    const result = rates(30, run(BETTER_BUT_SLOW, 3_000_000));
    expect(result.promote).toBe(0);
  });
});

describe('split mode (unpaired, 50/50), batches of 40 (20 per arm), decision after every batch', () => {
  const policy = decisionPolicy({ maxSamplesPerArm: 8000 });
  const run = (challenger: ModelTruth, offset: number) => (seed: number) =>
    simulateSplit(seed + offset, BASELINE, challenger, policy, { batchSize: 40 });

  test('a better challenger (0.80 vs 0.75) is promoted in at least 95 % of runs', () => {
    const result = rates(100, run(BETTER, 0));
    expect(result.promote).toBeGreaterThanOrEqual(0.95);
  });

  test('an equal challenger is wrongly promoted in at most 5 % of runs', () => {
    const result = rates(40, run(BASELINE, 1_000_000));
    expect(result.promote).toBeLessThanOrEqual(0.05);
  });

  test('a worse challenger (0.70) is never promoted and is rejected', () => {
    const result = rates(60, run(WORSE, 2_000_000));
    expect(result.promote).toBe(0);
    expect(result.reject).toBe(1);
  });

  test('a guardrail breach blocks promotion of a better challenger', () => {
    const result = rates(30, run(BETTER_BUT_SLOW, 3_000_000));
    expect(result.promote).toBe(0);
  });

  test('an uneven 20 % challenger share keeps the false-promotion bound', () => {
    const result = rates(30, (seed) =>
      simulateSplit(seed + 4_000_000, BASELINE, BASELINE, decisionPolicy({ maxSamplesPerArm: 2000 }), {
        challengerShare: 0.2,
        batchSize: 50,
      }),
    );
    expect(result.promote).toBeLessThanOrEqual(0.05);
  });
});
