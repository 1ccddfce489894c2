import { chooseThreshold, evaluateThreshold, oracleCoverage } from '../../../../training/evaluation/coverage';

const validationConfidence = Float32Array.from([0.9, 0.8, 0.8, 0.7, 0.6, 0.5]);
const validationCorrect = Uint8Array.from([1, 1, 0, 1, 1, 0]);

describe('coverage at a target precision', () => {
  it('chooses the lowest threshold whose precision reaches the target on validation', () => {
    // Precision above each threshold: .9 → 1, .8 → 2/3, .7 → 3/4, .6 → 4/5, .5 → 4/6.
    const choice = chooseThreshold(validationConfidence, validationCorrect, 0.75);
    expect(choice.threshold).toBeCloseTo(0.6, 6);
    expect(choice.precision).toBeCloseTo(0.8, 12);
    expect(choice.coverage).toBeCloseTo(5 / 6, 12);
  });

  it('admits tied items together, unlike the oracle which splits ties by position', () => {
    const choice = chooseThreshold(validationConfidence, validationCorrect, 0.9);
    expect(choice.threshold).toBeCloseTo(0.9, 6);
    expect(choice.coverage).toBeCloseTo(1 / 6, 12);
    expect(oracleCoverage(validationConfidence, validationCorrect, 0.9)).toBeCloseTo(2 / 6, 12);
  });

  it('measures the validation threshold on test data', () => {
    const threshold = chooseThreshold(validationConfidence, validationCorrect, 0.75).threshold;
    const test = evaluateThreshold(
      Float32Array.from([0.95, 0.65, 0.6, 0.55, 0.3]),
      Uint8Array.from([1, 0, 1, 1, 0]),
      threshold,
    );
    expect(test).toMatchObject({ decided: 3, coverage: 3 / 5 });
    expect(test.precision).toBeCloseTo(2 / 3, 12);
  });

  it('decides nothing when no threshold reaches the target', () => {
    const choice = chooseThreshold(validationConfidence, validationCorrect, 1.01);
    expect(choice.threshold).toBe(Infinity);
    expect(evaluateThreshold(validationConfidence, validationCorrect, choice.threshold)).toMatchObject({
      decided: 0,
      coverage: 0,
      precision: 1,
    });
    expect(oracleCoverage(validationConfidence, validationCorrect, 1.01)).toBe(0);
  });
});
