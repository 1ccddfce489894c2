import { classificationMetrics, expectedCalibrationError } from '../../../../training/evaluation/metrics';
import { softmaxRows, topKIndices } from '../../../../training/evaluation/scores';

const labelSet = ['010121', '392410', '392490', '940360', '940370', '950300'];
const C = labelSet.length;
// prettier-ignore
const probabilities = Float32Array.from([
  0.05, 0.6, 0.1, 0.1, 0.1, 0.05, // true 1: hit
  0.05, 0.5, 0.3, 0.05, 0.05, 0.05, // true 2: predicted 1 (same heading), true class 2nd
  0.02, 0.02, 0.02, 0.04, 0.8, 0.1, // true 3: predicted 4 (same heading), true class 3rd
  0.01, 0.2, 0.2, 0.2, 0.2, 0.19, // true 0: predicted 1 (tie, lower index wins), true class last
  0, 0, 0, 0, 0.1, 0.9, // true 5: hit
]);
const trueLabels = Int32Array.from([1, 2, 3, 0, 5]);

describe('classificationMetrics (hand-computed case)', () => {
  const m = classificationMetrics(probabilities, trueLabels, labelSet, C);

  it('accuracy at 1 and 5 and by code prefix', () => {
    expect(m.accuracyAt1).toBeCloseTo(2 / 5, 12);
    expect(m.accuracyAt5).toBeCloseTo(4 / 5, 12);
    expect(m.hierarchicalAccuracy).toEqual({ hs2: 0.8, hs4: 0.8, hs6: 0.4 });
  });

  it('per-class precision, recall, F1 and the macro average over true ∪ predicted classes', () => {
    const byCode = Object.fromEntries(m.perClass.map((c) => [c.code, c]));
    expect(byCode['392410']).toMatchObject({ support: 1, predicted: 3, recall: 1 });
    expect(byCode['392410']!.precision).toBeCloseTo(1 / 3, 6);
    expect(byCode['392410']!.f1).toBeCloseTo(0.5, 6);
    expect(byCode['950300']).toMatchObject({ precision: 1, recall: 1, f1: 1 });
    expect(byCode['940370']).toMatchObject({ support: 0, predicted: 1, f1: 0 });
    expect(m.perClass).toHaveLength(6);
    expect(m.macroF1).toBeCloseTo(1.5 / 6, 6);
  });

  it('chapter accuracy worst first and confused chapter pairs', () => {
    expect(m.chapterAccuracy.map((c) => [c.chapter, c.accuracy])).toEqual([
      ['01', 0],
      ['94', 0],
      ['39', 0.5],
      ['95', 1],
    ]);
    expect(m.topChapterConfusions).toEqual([{ trueChapter: '01', predictedChapter: '39', count: 1 }]);
  });

  it('NLL and ECE', () => {
    const nll = -(Math.log(0.6) + Math.log(0.3) + Math.log(0.04) + Math.log(0.01) + Math.log(0.9)) / 5;
    expect(m.nll).toBeCloseTo(nll, 5);
    // Each confidence falls in its own bin: (|1−.6| + |0−.5| + |0−.8| + |0−.2| + |1−.9|) / 5.
    expect(m.ece).toBeCloseTo(0.4, 5);
  });

  it('counts a row with several correct codes as a hit on any of them', () => {
    const alternatives = new Map([[1, Int32Array.from([1, 2])]]);
    const withAlt = classificationMetrics(probabilities, trueLabels, labelSet, C, { alternatives });
    expect(withAlt.accuracyAt1).toBeCloseTo(3 / 5, 12);
  });

  it('counts rows whose class the model lacks as errors', () => {
    const extended = [...labelSet, '999999'];
    const labels = Int32Array.from([1, 2, 3, 0, 6]);
    const r = classificationMetrics(probabilities, labels, extended, C);
    expect(r.accuracyAt1).toBeCloseTo(1 / 5, 12);
    expect(r.n).toBe(5);
  });

  it('fails on a wrong shape', () => {
    expect(() => classificationMetrics(probabilities, trueLabels, labelSet, 5)).toThrow(/expected 5 × 5/);
  });
});

describe('expectedCalibrationError', () => {
  it('is zero when confidence equals accuracy in every bin', () => {
    const conf = Float32Array.from([0.5, 0.5, 1, 1]);
    expect(expectedCalibrationError(conf, Uint8Array.from([1, 0, 1, 1]), 15)).toBeCloseTo(0, 6);
  });
});

describe('score helpers', () => {
  it('top-k is ordered and softmax rows sum to 1', () => {
    expect([...topKIndices(Float32Array.from([0.1, 0.5, 0.3, 0.9]), 4, 3)]).toEqual([3, 1, 2]);
    const p = softmaxRows(Float32Array.from([1000, 1001, 0, 0]), 2, 1);
    expect(p[1]).toBeCloseTo(1 / (1 + Math.exp(-1)), 6);
    expect(p[2]! + p[3]!).toBeCloseTo(1, 6);
  });
});
