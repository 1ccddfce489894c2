import { createRandom } from '../../../../shared/math/random';
import { loadNomenclature } from '../../../../shared/hs/nomenclature';
import { fitTemperature } from '../../../../training/evaluation/calibration';
import { chooseThreshold } from '../../../../training/evaluation/coverage';
import { topOneCorrect } from '../../../../training/evaluation/metrics';
import { evaluateModel, renderMarkdownReport } from '../../../../training/evaluation/report';
import { softmaxRows } from '../../../../training/evaluation/scores';

const labelSet = ['392410', '392490', '940360', '940370', '950300', '851712'];
const C = labelSet.length;

/** An over-confident model: logits are 3 × (a noisy signal towards the true class). */
function scoredSet(n: number, seed: number) {
  const rng = createRandom(seed);
  const labels = new Int32Array(n);
  const scores = new Float32Array(n * C);
  for (let i = 0; i < n; i++) {
    labels[i] = rng.int(C);
    const strength = 2 * rng.next();
    for (let c = 0; c < C; c++) scores[i * C + c] = 3 * (rng.normal() + (c === labels[i] ? strength : 0));
  }
  return { scores, labels };
}

describe('evaluateModel', () => {
  const validation = scoredSet(600, 1);
  const test = scoredSet(600, 2);
  const report = evaluateModel({ modelId: 'm1', labelSet, numClasses: C, validation, test });

  it('fits the temperature on validation and reports calibrated metrics', () => {
    expect(report.temperature!.temperature).toBeCloseTo(
      fitTemperature(validation.scores, validation.labels, C).temperature,
      6,
    );
    expect(report.temperature!.temperature).toBeGreaterThan(1.5);
    expect(report.test.n).toBe(600);
    expect(report.test.accuracyAt1).toBeGreaterThan(1 / C);
    expect(report.validation).not.toHaveProperty('perClass');
  });

  it('chooses each auto threshold on validation and only measures it on test', () => {
    const probabilities = softmaxRows(validation.scores, C, report.temperature!.temperature);
    const top = topOneCorrect(probabilities, validation.labels, C);
    for (const c of report.coverage) {
      const choice = chooseThreshold(top.confidence, top.correct, c.targetPrecision);
      expect(c.threshold).toBe(Number.isFinite(choice.threshold) ? choice.threshold : null);
      expect(c.validationCoverage).toBe(choice.coverage);
      expect(c.testOracleCoverage).toBeGreaterThanOrEqual(0);
    }
    expect(report.coverage.map((c) => c.targetPrecision)).toEqual([0.95, 0.98]);
  });

  it('survives a JSON round trip', () => {
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });

  it('renders Markdown with the tables people read', () => {
    const nomenclature = loadNomenclature();
    const md = renderMarkdownReport(report, { describeChapter: (ch) => nomenclature.describe(ch) });
    expect(md).toContain('# Evaluation of m1');
    expect(md).toMatch(/\| accuracy@1 \| \d+\.\d % \| \d+\.\d % \|/);
    expect(md).toContain('## Automatic decisions');
    expect(md).toContain('39 (Plastics and articles thereof)');
    expect(md).toContain('## Worst classes');
  });
});
