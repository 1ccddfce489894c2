import { createRandom } from '../../../../shared/math/random';
import { fitTemperature, temperatureNll } from '../../../../training/evaluation/calibration';

/**
 * Labels drawn from softmax(z) make z perfectly calibrated; a model that outputs T0·z is over-confident by T0, so
 * temperature scaling must find T ≈ T0.
 */
function syntheticLogits(n: number, classes: number, trueTemperature: number, seed: number) {
  const rng = createRandom(seed);
  const logits = new Float32Array(n * classes);
  const labels = new Int32Array(n);
  const z = new Float64Array(classes);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let c = 0; c < classes; c++) {
      z[c] = 2 * rng.normal();
      sum += Math.exp(z[c]!);
    }
    let u = rng.next() * sum;
    let label = 0;
    while (label < classes - 1 && u >= Math.exp(z[label]!)) u -= Math.exp(z[label++]!);
    labels[i] = label;
    for (let c = 0; c < classes; c++) logits[i * classes + c] = z[c]! * trueTemperature;
  }
  return { logits, labels };
}

describe('fitTemperature', () => {
  it.each([0.5, 2.5])('recovers a known temperature (%p)', (trueTemperature) => {
    const { logits, labels } = syntheticLogits(4000, 10, trueTemperature, 11);
    const fit = fitTemperature(logits, labels, 10);
    expect(fit.temperature).toBeGreaterThan(trueTemperature * 0.9);
    expect(fit.temperature).toBeLessThan(trueTemperature * 1.1);
    expect(fit.nllAfter).toBeLessThan(fit.nllBefore);
    expect(fit.iterations).toBeLessThan(15);
  });

  it('finds the minimum of the NLL curve', () => {
    const { logits, labels } = syntheticLogits(1000, 5, 1.7, 3);
    const fit = fitTemperature(logits, labels, 5);
    for (const factor of [0.9, 1.1]) {
      expect(temperatureNll(logits, labels, 5, fit.temperature * factor)).toBeGreaterThan(fit.nllAfter);
    }
  });

  it('stops at the bound of the range when the data are perfectly separated', () => {
    const logits = Float32Array.from([2, 0, 0, 0, 3, 1]);
    const fit = fitTemperature(logits, Int32Array.from([0, 1]), 3, { logTemperatureRange: [-2, 2] });
    expect(fit.temperature).toBeCloseTo(Math.exp(-2), 5);
    expect(fit.nllAfter).toBeLessThan(fit.nllBefore);
  });

  it('skips rows whose class the model lacks and checks the shape', () => {
    const logits = Float32Array.from([1, 0, 0, 1]);
    expect(temperatureNll(logits, Int32Array.from([0, 5]), 2, 1)).toBeCloseTo(Math.log(1 + Math.exp(-1)), 12);
    expect(() => fitTemperature(logits, Int32Array.from([0]), 2)).toThrow(/expected 1 × 2/);
  });
});
