import {
  FeedbackRejectedError,
  parseFeedback,
  shadowPredictionId,
} from '../../../../shared/feedback/feedback';

describe('parseFeedback', () => {
  it('accepts a filed code with dots and spaces and normalises it to digits', () => {
    expect(
      parseFeedback({ predictionId: 'abc-1', hsCode: '7318.15 90', source: 'erp', filedAt: '2026-01-02' }),
    ).toEqual({
      ok: true,
      value: {
        predictionId: 'abc-1',
        hsCode: '73181590',
        source: 'erp',
        filedAt: '2026-01-02T00:00:00.000Z',
      },
    });
  });

  it('names every bad field', () => {
    const result = parseFeedback({ predictionId: '', hsCode: '7318', filedAt: 'yesterday', extra: 1 });
    expect(result.ok).toBe(false);
    const problems = result.ok ? [] : result.problems;
    expect(problems.map((p) => p.split(':')[0])).toEqual(['extra', 'predictionId', 'hsCode', 'filedAt']);
  });

  it.each([null, 'text', 42, ['a'], { hsCode: '731815' }, { predictionId: 'a/b', hsCode: '731815' }])(
    'rejects %p',
    (body) => {
      expect(parseFeedback(body).ok).toBe(false);
    },
  );

  it('accepts national codes up to ten digits but not longer', () => {
    expect(parseFeedback({ predictionId: 'p', hsCode: '7318159000' }).ok).toBe(true);
    expect(parseFeedback({ predictionId: 'p', hsCode: '73181590001' }).ok).toBe(false);
  });
});

describe('FeedbackRejectedError', () => {
  it('carries the dead-letter reason and description a Service Bus consumer settles with', () => {
    const error = new FeedbackRejectedError('unknown-prediction', "no prediction 'x'");
    expect(error).toBeInstanceOf(Error);
    expect(error.deadLetterReason).toBe('unknown-prediction');
    expect(error.deadLetterErrorDescription).toBe("no prediction 'x'");
    expect(error.message).toContain('unknown-prediction');
  });

  it('refuses feedback on a shadow score, which was never served', () => {
    expect(shadowPredictionId('p-1')).not.toBe('p-1');
    expect(parseFeedback({ predictionId: shadowPredictionId('p-1'), hsCode: '731815' }).ok).toBe(false);
  });
});
