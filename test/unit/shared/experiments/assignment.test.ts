import {
  assignArm,
  assignmentKey,
  assignmentPoint,
  assignToChallenger,
  checkSampleRatio,
} from '../../../../shared/experiments/assignment';

describe('assignmentPoint', () => {
  test('is deterministic, in [0, 1), and depends on both the experiment and the key', () => {
    const point = assignmentPoint('exp-1', 'shipment-42');
    expect(assignmentPoint('exp-1', 'shipment-42')).toBe(point);
    expect(point).toBeGreaterThanOrEqual(0);
    expect(point).toBeLessThan(1);
    expect(assignmentPoint('exp-2', 'shipment-42')).not.toBe(point);
    expect(assignmentPoint('exp-1', 'shipment-43')).not.toBe(point);
    // The pair is encoded unambiguously.
    expect(assignmentPoint('ab', 'c')).not.toBe(assignmentPoint('a', 'bc'));
  });

  test('is uniform: deciles of 20,000 keys pass a chi-square test', () => {
    const deciles = new Array<number>(10).fill(0);
    for (let i = 0; i < 20_000; i++) {
      const decile = Math.floor(assignmentPoint('uniformity', `prediction-${i}`) * 10);
      deciles[decile]! += 1;
    }
    const check = checkSampleRatio(deciles, new Array<number>(10).fill(0.1));
    expect(check.pValue).toBeGreaterThan(0.001);
  });
});

describe('assignToChallenger and assignArm', () => {
  test('the challenger receives its configured share', () => {
    let challenger = 0;
    const total = 20_000;
    for (let i = 0; i < total; i++) if (assignToChallenger('share', `p-${i}`, 0.2)) challenger++;
    // 0.2 ± 4 standard errors (0.0028 each).
    expect(Math.abs(challenger / total - 0.2)).toBeLessThan(0.0113);
  });

  test('ramping the challenger share up never moves a unit back to the champion', () => {
    for (let i = 0; i < 2_000; i++) {
      const key = `declarant-${i}`;
      if (assignToChallenger('ramp', key, 0.1)) expect(assignToChallenger('ramp', key, 0.3)).toBe(true);
    }
  });

  test('assignArm agrees with the two-arm helper when the challenger is listed first', () => {
    const arms = [
      { id: 'challenger', share: 0.25 },
      { id: 'champion', share: 0.75 },
    ];
    for (let i = 0; i < 500; i++) {
      const key = `k-${i}`;
      expect(assignArm('same', key, arms) === 'challenger').toBe(assignToChallenger('same', key, 0.25));
    }
  });

  test('assignArm covers three arms in proportion and rejects bad splits', () => {
    const arms = [
      { id: 'a', share: 0.5 },
      { id: 'b', share: 0.3 },
      { id: 'c', share: 0.2 },
    ];
    const counts = { a: 0, b: 0, c: 0 } as Record<string, number>;
    for (let i = 0; i < 10_000; i++) counts[assignArm('three', `x${i}`, arms)]! += 1;
    expect(checkSampleRatio([counts.a!, counts.b!, counts.c!], [0.5, 0.3, 0.2]).mismatch).toBe(false);
    expect(() => assignArm('bad', 'k', [{ id: 'a', share: 1 }])).toThrow(RangeError);
    expect(() =>
      assignArm('bad', 'k', [
        { id: 'a', share: 0.5 },
        { id: 'b', share: 0.6 },
      ]),
    ).toThrow(/sum/);
    expect(() => assignToChallenger('bad', 'k', 1.5)).toThrow(RangeError);
  });

  test('assignmentKey prefers the caller key', () => {
    expect(assignmentKey('shipment-1', 'pred-1')).toBe('shipment-1');
    expect(assignmentKey(undefined, 'pred-1')).toBe('pred-1');
    expect(assignmentKey('', 'pred-1')).toBe('pred-1');
    expect(() => assignmentKey(undefined, '')).toThrow(RangeError);
  });
});

describe('checkSampleRatio', () => {
  test('hand-computed chi-square: 5,200 vs 4,800 against 50/50', () => {
    // (200² / 5000) × 2 = 16, df 1 → p = 6.334e−5.
    const check = checkSampleRatio([5200, 4800], [0.5, 0.5]);
    expect(check.chiSquare).toBeCloseTo(16, 10);
    expect(check.degreesOfFreedom).toBe(1);
    expect(check.pValue).toBeCloseTo(6.334e-5, 7);
    expect(check.mismatch).toBe(true);
  });

  test('a split within noise is not flagged; an empty experiment is not flagged', () => {
    // 1,030 vs 970 of 2,000: chi-square 1.8, p ≈ 0.18.
    const check = checkSampleRatio([1030, 970], [0.5, 0.5]);
    expect(check.chiSquare).toBeCloseTo(1.8, 10);
    expect(check.mismatch).toBe(false);
    expect(checkSampleRatio([0, 0], [0.9, 0.1])).toMatchObject({ pValue: 1, mismatch: false });
  });

  test('flags an unequal split against its own configuration', () => {
    // 10 % configured; 1,200 of 10,000 observed: chi-square = 200²/1000 + 200²/9000 = 44.44.
    const check = checkSampleRatio([1200, 8800], [0.1, 0.9]);
    expect(check.chiSquare).toBeCloseTo(40 + 40 / 9, 8);
    expect(check.mismatch).toBe(true);
    expect(() => checkSampleRatio([1, 2], [0.5, 0.4])).toThrow(RangeError);
    expect(() => checkSampleRatio([1, 2, 3], [0.5, 0.5])).toThrow(RangeError);
    expect(() => checkSampleRatio([1.5, 2], [0.5, 0.5])).toThrow(RangeError);
  });
});
