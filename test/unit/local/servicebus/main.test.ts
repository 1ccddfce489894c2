import { parsePeerArguments } from '../../../../local/servicebus/main';

describe('parsePeerArguments', () => {
  it('reads queues, topics with subscriptions and limits', () => {
    expect(
      parsePeerArguments([
        '--port',
        '0',
        '--queue',
        'predictions',
        '--queue',
        'retrain',
        '--topic',
        'model-events:audit,deploy',
        '--max-delivery-count',
        '5',
      ]),
    ).toEqual({
      port: 0,
      host: '127.0.0.1',
      entities: { queues: ['predictions', 'retrain'], topics: { 'model-events': ['audit', 'deploy'] } },
      maxDeliveryCount: 5,
      lockDurationMs: 30_000,
    });
  });

  it('defaults to the emulator port and names bad arguments', () => {
    expect(parsePeerArguments(['--queue', 'q']).port).toBe(5672);
    expect(() => parsePeerArguments([])).toThrow(/at least one --queue or --topic/);
    expect(() => parsePeerArguments(['--queue', 'q', '--topic', 'events'])).toThrow(/NAME:SUB1,SUB2/);
    expect(() => parsePeerArguments(['--queue', 'q', '--lock-duration-ms', 'soon'])).toThrow(
      /--lock-duration-ms/,
    );
    expect(() => parsePeerArguments(['--queue', 'q', '--bogus'])).toThrow();
  });
});
