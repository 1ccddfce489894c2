/**
 * The local host's Service Bus trigger loop, against the local peer, with the real SDK on both ends.
 */
import { ServiceBusClient, type ServiceBusReceivedMessage } from '@azure/service-bus';
import { startServiceBusPeer, type ServiceBusPeer } from '../../../local/servicebus/peer';
import { parseEntityPath, startServiceBusTrigger } from '../../../local/servicebus/trigger';

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('parseEntityPath', () => {
  it('reads queues, subscriptions and dead-letter subqueues', () => {
    expect(parseEntityPath('orders')).toEqual({ queueName: 'orders' });
    expect(parseEntityPath('orders/$DeadLetterQueue')).toEqual({
      queueName: 'orders',
      subQueue: 'deadLetter',
    });
    expect(parseEntityPath('events/Subscriptions/audit')).toEqual({
      topicName: 'events',
      subscriptionName: 'audit',
    });
    expect(parseEntityPath('events/subscriptions/audit/$DeadLetterQueue')).toEqual({
      topicName: 'events',
      subscriptionName: 'audit',
      subQueue: 'deadLetter',
    });
    expect(() => parseEntityPath('a/b')).toThrow(/not a queue or subscription/);
  });
});

describe('startServiceBusTrigger', () => {
  let peer: ServiceBusPeer;
  let client: ServiceBusClient;

  beforeAll(async () => {
    peer = await startServiceBusPeer({
      entities: { queues: ['jobs', 'flaky', 'slow'], topics: { events: ['audit'] } },
      maxDeliveryCount: 2,
    });
    client = new ServiceBusClient(peer.connectionString);
  });

  afterAll(async () => {
    await client.close();
    await peer.stop();
  });

  it('completes every message its handler accepts', async () => {
    const handled: unknown[] = [];
    const trigger = startServiceBusTrigger({
      connectionString: peer.connectionString,
      entityPath: 'events/Subscriptions/audit',
      maxConcurrentCalls: 4,
      handler: async (message) => {
        handled.push(message.body);
      },
    });
    const sender = client.createSender('events');
    await sender.sendMessages(Array.from({ length: 20 }, (_, n) => ({ body: { n } })));
    await sender.close();
    await waitFor(() => handled.length === 20 && peer.counts('events/Subscriptions/audit').locked === 0);
    await trigger.stop();
    expect(handled.map((body) => (body as { n: number }).n).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 20 }, (_, n) => n),
    );
    expect(peer.counts('events/Subscriptions/audit')).toEqual({ active: 0, locked: 0 });
  });

  it('abandons when the handler throws, until the message is dead-lettered', async () => {
    const attempts: number[] = [];
    const errors: string[] = [];
    const trigger = startServiceBusTrigger({
      connectionString: peer.connectionString,
      entityPath: 'flaky',
      handler: async (message: ServiceBusReceivedMessage) => {
        attempts.push(message.deliveryCount ?? -1);
        throw new Error('model not loaded');
      },
      onError: (error) => errors.push(error.message),
    });
    const sender = client.createSender('flaky');
    await sender.sendMessages({ body: 'poison', messageId: 'poison-1' });
    await sender.close();
    await waitFor(() => peer.counts('flaky/$DeadLetterQueue').active === 1);
    await trigger.stop();
    expect(attempts).toEqual([0, 1]);
    expect(errors).toEqual(['model not loaded', 'model not loaded']);

    const deadLetters = client.createReceiver('flaky', { subQueueType: 'deadLetter' });
    const [dead] = await deadLetters.receiveMessages(1, { maxWaitTimeInMs: 2_000 });
    expect(dead!.messageId).toBe('poison-1');
    expect(dead!.deadLetterReason).toBe('MaxDeliveryCountExceeded');
    await deadLetters.completeMessage(dead!);
    await deadLetters.close();
  });

  it('stops cleanly: a handler in flight finishes and its message is completed', async () => {
    let release: () => void = () => undefined;
    let markStarted: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (markStarted = resolve));
    const trigger = startServiceBusTrigger({
      connectionString: peer.connectionString,
      entityPath: 'slow',
      handler: async () => {
        markStarted();
        await new Promise<void>((done) => (release = done));
      },
    });
    const sender = client.createSender('slow');
    await sender.sendMessages({ body: 'long job' });
    await sender.close();
    await started;
    let stopped = false;
    const stopping = trigger.stop().then(() => (stopped = true));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(peer.counts('slow')).toEqual({ active: 0, locked: 0 });
  });
});
