import { MAX_DELIVERY_COUNT_EXCEEDED, Namespace, normalizeAddress } from '../../../../local/servicebus/store';

const limits = { maxDeliveryCount: 3, lockDurationMs: 1_000 };

function receivable(namespace: Namespace<string>, path: string) {
  const resolved = namespace.resolve(path);
  if (resolved.kind !== 'receivable') throw new Error(`${path} is not receivable`);
  return resolved.entity;
}

describe('Namespace and MessageEntity', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('hands messages out in sequence order and completes them under their lock', () => {
    const namespace = new Namespace<string>({ queues: ['jobs'], topics: {} }, limits);
    for (const payload of ['a', 'b', 'c'])
      expect(namespace.send('jobs', payload)).toMatchObject({ ok: true });
    const jobs = receivable(namespace, 'jobs');
    const first = jobs.lockNext()!;
    const second = jobs.lockNext()!;
    expect([first.message.payload, second.message.payload]).toEqual(['a', 'b']);
    expect(first.message.sequenceNumber).toBeLessThan(second.message.sequenceNumber);
    expect(jobs.complete(first.lockToken)).toEqual({ ok: true });
    expect(jobs.complete(first.lockToken)).toEqual({ ok: false, reason: 'lock-lost' });
    expect([jobs.availableCount, jobs.lockedCount]).toEqual([1, 1]);
    namespace.dispose();
  });

  it('puts an abandoned message back at its place with one more delivery', () => {
    const namespace = new Namespace<string>({ queues: ['jobs'], topics: {} }, limits);
    namespace.send('jobs', 'a');
    namespace.send('jobs', 'b');
    const jobs = receivable(namespace, 'jobs');
    const a = jobs.lockNext()!;
    expect(jobs.abandon(a.lockToken, { reason: 'busy' })).toEqual({ ok: true });
    const again = jobs.lockNext()!;
    expect(again.message.payload).toBe('a');
    expect(again.message.deliveryCount).toBe(1);
    expect(again.message.brokerApplicationProperties).toEqual({ reason: 'busy' });
    // `released` returns the message without counting a failed delivery.
    expect(jobs.abandon(again.lockToken, {}, false)).toEqual({ ok: true });
    expect(jobs.lockNext()!.message.deliveryCount).toBe(1);
    namespace.dispose();
  });

  it('dead-letters after maxDeliveryCount failed deliveries, lock expiries included', () => {
    const namespace = new Namespace<string>({ queues: ['jobs'], topics: {} }, limits);
    namespace.send('jobs', 'poison');
    const jobs = receivable(namespace, 'jobs');
    jobs.abandon(jobs.lockNext()!.lockToken);
    jobs.lockNext();
    jest.advanceTimersByTime(1_000);
    expect([jobs.availableCount, jobs.lockedCount]).toEqual([1, 0]);
    jobs.abandon(jobs.lockNext()!.lockToken);
    expect(jobs.availableCount).toBe(0);
    const deadLetters = receivable(namespace, 'jobs/$DeadLetterQueue');
    const dead = deadLetters.take()!;
    expect(dead.payload).toBe('poison');
    expect(dead.deliveryCount).toBe(3);
    expect(dead.brokerApplicationProperties['DeadLetterReason']).toBe(MAX_DELIVERY_COUNT_EXCEEDED);
    namespace.dispose();
  });

  it('extends a lock on renewal, and expires it a lock duration after the renewal', () => {
    const namespace = new Namespace<string>({ queues: ['jobs'], topics: {} }, limits);
    namespace.send('jobs', 'a');
    const jobs = receivable(namespace, 'jobs');
    const locked = jobs.lockNext()!;
    jest.advanceTimersByTime(800);
    const renewedUntil = jobs.renewLock(locked.lockToken)!;
    expect(renewedUntil.getTime()).toBe(locked.lockedUntilUtc.getTime() + 800);
    jest.advanceTimersByTime(900);
    expect(jobs.lockedCount).toBe(1);
    jest.advanceTimersByTime(100);
    expect(jobs.lockedCount).toBe(0);
    expect(jobs.renewLock(locked.lockToken)).toBeUndefined();
    namespace.dispose();
  });

  it('dead-letters with the reason and description, and refuses to dead-letter from a dead-letter queue', () => {
    const namespace = new Namespace<string>({ queues: ['jobs'], topics: {} }, limits);
    namespace.send('jobs', 'bad');
    const jobs = receivable(namespace, 'jobs');
    const locked = jobs.lockNext()!;
    expect(jobs.deadLetter(locked.lockToken, 'Invalid', 'no description', { stage: 'parse' })).toEqual({
      ok: true,
    });
    const deadLetters = receivable(namespace, 'jobs/$deadletterqueue');
    const dead = deadLetters.lockNext()!;
    expect(dead.message.brokerApplicationProperties).toEqual({
      stage: 'parse',
      DeadLetterReason: 'Invalid',
      DeadLetterErrorDescription: 'no description',
    });
    expect(deadLetters.deadLetter(dead.lockToken, 'again', undefined)).toEqual({
      ok: false,
      reason: 'no-dead-letter-queue',
    });
    namespace.dispose();
  });

  it('copies a topic message to every subscription under one sequence number', () => {
    const namespace = new Namespace<string>({ queues: [], topics: { events: ['audit', 'deploy'] } }, limits);
    expect(namespace.send('Events', 'deployed')).toEqual({ ok: true, sequenceNumber: 1 });
    const audit = receivable(namespace, 'events/Subscriptions/audit').take()!;
    const deploy = receivable(namespace, 'events/subscriptions/DEPLOY').take()!;
    expect([audit.payload, deploy.payload]).toEqual(['deployed', 'deployed']);
    expect(audit.sequenceNumber).toBe(deploy.sequenceNumber);
    expect(audit).not.toBe(deploy);
    namespace.dispose();
  });

  it('refuses sends to unknown entities, dead-letter queues and subscriptions', () => {
    const namespace = new Namespace<string>({ queues: ['jobs'], topics: { events: ['audit'] } }, limits);
    expect(namespace.send('nope', 'x')).toEqual({ ok: false, reason: 'not-found' });
    expect(namespace.send('jobs/$DeadLetterQueue', 'x')).toEqual({ ok: false, reason: 'not-allowed' });
    expect(namespace.send('events/Subscriptions/audit', 'x')).toEqual({ ok: false, reason: 'not-allowed' });
    expect(() => new Namespace({ queues: ['a', 'A'], topics: {} }, limits)).toThrow(/duplicate/);
    namespace.dispose();
  });

  it('enqueues scheduled messages at their time unless cancelled', () => {
    const namespace = new Namespace<string>({ queues: ['jobs'], topics: {} }, limits);
    const at = new Date(Date.now() + 5_000);
    const kept = namespace.send('jobs', 'kept', at);
    const cancelled = namespace.send('jobs', 'cancelled', at);
    if (!kept.ok || !cancelled.ok) throw new Error('scheduling failed');
    expect(namespace.cancelScheduled('jobs', [cancelled.sequenceNumber])).toEqual({ ok: true });
    expect(namespace.cancelScheduled('jobs', [cancelled.sequenceNumber])).toEqual({
      ok: false,
      reason: 'not-found',
    });
    const jobs = receivable(namespace, 'jobs');
    jest.advanceTimersByTime(4_999);
    expect(jobs.availableCount).toBe(0);
    jest.advanceTimersByTime(1);
    expect(jobs.take()!.payload).toBe('kept');
    expect(jobs.availableCount).toBe(0);
    namespace.dispose();
  });

  it('peeks in sequence order, locked messages included, without locking', () => {
    const namespace = new Namespace<string>({ queues: ['jobs'], topics: {} }, limits);
    for (const payload of ['a', 'b', 'c']) namespace.send('jobs', payload);
    const jobs = receivable(namespace, 'jobs');
    const locked = jobs.lockNext()!;
    const peeked = jobs.peek(0, 10);
    expect(peeked.map((entry) => entry.message.payload)).toEqual(['a', 'b', 'c']);
    expect(peeked[0]!.lockedUntilUtc).toEqual(locked.lockedUntilUtc);
    expect(jobs.peek(peeked[1]!.message.sequenceNumber, 1).map((entry) => entry.message.payload)).toEqual([
      'b',
    ]);
    expect(jobs.lockedCount).toBe(1);
    namespace.dispose();
  });
});

describe('normalizeAddress', () => {
  it('accepts the address forms AMQP clients use', () => {
    expect(normalizeAddress('jobs')).toBe('jobs');
    expect(normalizeAddress('/jobs/')).toBe('jobs');
    expect(normalizeAddress('sb://127.0.0.1:5672/events/Subscriptions/audit')).toBe(
      'events/Subscriptions/audit',
    );
  });
});
