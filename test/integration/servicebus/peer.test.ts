/**
 * The local Service Bus peer, driven only through the real `@azure/service-bus` SDK.
 */
import { ServiceBusClient, type ServiceBusReceivedMessage } from '@azure/service-bus';
import { startServiceBusPeer, type ServiceBusPeer } from '../../../local/servicebus/peer';

const QUEUE = 'predictions';
const RETRY_QUEUE = 'retries';
const TOPIC = 'model-events';

describe('local Service Bus peer', () => {
  let peer: ServiceBusPeer;
  let client: ServiceBusClient;

  beforeAll(async () => {
    peer = await startServiceBusPeer({
      entities: { queues: [QUEUE, RETRY_QUEUE, 'scratch'], topics: { [TOPIC]: ['audit', 'deploy'] } },
      maxDeliveryCount: 3,
      lockDurationMs: 5_000,
    });
    client = new ServiceBusClient(peer.connectionString, {
      retryOptions: { maxRetries: 0, timeoutInMs: 5_000 },
    });
  });

  afterAll(async () => {
    await client.close();
    await peer.stop();
  });

  async function drain(entity: string, subscription?: string): Promise<void> {
    const receiver =
      subscription === undefined
        ? client.createReceiver(entity, { receiveMode: 'receiveAndDelete' })
        : client.createReceiver(entity, subscription, { receiveMode: 'receiveAndDelete' });
    while ((await receiver.receiveMessages(50, { maxWaitTimeInMs: 200 })).length > 0);
    await receiver.close();
  }

  it('sends one message and a batch, receives them in order with peek-lock, and completes them', async () => {
    const sender = client.createSender(QUEUE);
    await sender.sendMessages({ body: { n: 0 } });
    const batch = await sender.createMessageBatch();
    for (let n = 1; n <= 4; n += 1) expect(batch.tryAddMessage({ body: { n } })).toBe(true);
    await sender.sendMessages(batch);
    await sender.sendMessages([{ body: { n: 5 } }, { body: { n: 6 } }]);
    await sender.close();

    const receiver = client.createReceiver(QUEUE);
    const received: ServiceBusReceivedMessage[] = [];
    while (received.length < 7) {
      const messages = await receiver.receiveMessages(7 - received.length, { maxWaitTimeInMs: 2_000 });
      if (messages.length === 0) break;
      received.push(...messages);
    }
    expect(received.map((message) => (message.body as { n: number }).n)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    const sequenceNumbers = received.map((message) => message.sequenceNumber!.toNumber());
    expect(sequenceNumbers).toEqual([...sequenceNumbers].sort((a, b) => a - b));
    expect(new Set(sequenceNumbers).size).toBe(7);
    for (const message of received) {
      expect(message.deliveryCount).toBe(0);
      expect(message.lockToken).toMatch(/^[0-9a-f-]{36}$/);
      expect(message.lockedUntilUtc!.getTime()).toBeGreaterThan(Date.now());
      await receiver.completeMessage(message);
    }
    expect(peer.counts(QUEUE)).toEqual({ active: 0, locked: 0 });
    // Completing twice is refused the way Service Bus refuses it.
    await expect(receiver.completeMessage(received[0]!)).rejects.toThrow();
    await receiver.close();
  });

  it('round-trips message properties', async () => {
    const sender = client.createSender(QUEUE);
    await sender.sendMessages({
      body: { description: 'cotton t-shirt', tags: ['apparel', 61] },
      messageId: 'msg-1',
      correlationId: 'corr-9',
      subject: 'predict',
      contentType: 'application/json',
      applicationProperties: { tenant: 'acme', attempt: 2, urgent: true },
    });
    await sender.close();
    const before = Date.now();
    const receiver = client.createReceiver(QUEUE);
    const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2_000 });
    expect(message).toBeDefined();
    expect(message!.body).toEqual({ description: 'cotton t-shirt', tags: ['apparel', 61] });
    expect(message!.messageId).toBe('msg-1');
    expect(message!.correlationId).toBe('corr-9');
    expect(message!.subject).toBe('predict');
    expect(message!.contentType).toBe('application/json');
    expect(message!.applicationProperties).toEqual({ tenant: 'acme', attempt: 2, urgent: true });
    expect(message!.enqueuedTimeUtc!.getTime()).toBeLessThanOrEqual(before + 50);
    expect(message!.enqueuedTimeUtc!.getTime()).toBeGreaterThan(before - 10_000);
    await receiver.completeMessage(message!);
    await receiver.close();
  });

  it('redelivers an abandoned message with its delivery count incremented', async () => {
    const sender = client.createSender(RETRY_QUEUE);
    await sender.sendMessages({ body: 'retry me', messageId: 'abandon-1' });
    await sender.close();
    const receiver = client.createReceiver(RETRY_QUEUE);
    const [first] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2_000 });
    expect(first!.deliveryCount).toBe(0);
    await receiver.abandonMessage(first!, { reason: 'transient' });
    const [second] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2_000 });
    expect(second!.messageId).toBe('abandon-1');
    expect(second!.deliveryCount).toBe(1);
    expect(second!.applicationProperties).toEqual({ reason: 'transient' });
    expect(second!.sequenceNumber!.toNumber()).toBe(first!.sequenceNumber!.toNumber());
    await receiver.completeMessage(second!);
    await receiver.close();
  });

  it('dead-letters with a reason readable from the dead-letter subqueue', async () => {
    const sender = client.createSender(QUEUE);
    await sender.sendMessages({ body: { bad: true }, messageId: 'poison-1' });
    await sender.close();
    const receiver = client.createReceiver(QUEUE);
    const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2_000 });
    await receiver.deadLetterMessage(message!, {
      deadLetterReason: 'ValidationFailed',
      deadLetterErrorDescription: 'description is empty',
    });
    await receiver.close();
    expect(peer.counts(`${QUEUE}/$DeadLetterQueue`)).toEqual({ active: 1, locked: 0 });

    const deadLetters = client.createReceiver(QUEUE, { subQueueType: 'deadLetter' });
    const [dead] = await deadLetters.receiveMessages(1, { maxWaitTimeInMs: 2_000 });
    expect(dead!.messageId).toBe('poison-1');
    expect(dead!.body).toEqual({ bad: true });
    expect(dead!.deadLetterReason).toBe('ValidationFailed');
    expect(dead!.deadLetterErrorDescription).toBe('description is empty');
    await deadLetters.completeMessage(dead!);
    await deadLetters.close();
    expect(peer.counts(`${QUEUE}/$DeadLetterQueue`)).toEqual({ active: 0, locked: 0 });
  });

  it('dead-letters a message abandoned maxDeliveryCount times', async () => {
    const sender = client.createSender(RETRY_QUEUE);
    await sender.sendMessages({ body: 'always fails', messageId: 'exhaust-1' });
    await sender.close();
    const receiver = client.createReceiver(RETRY_QUEUE);
    const counts: number[] = [];
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2_000 });
      expect(message!.messageId).toBe('exhaust-1');
      counts.push(message!.deliveryCount!);
      await receiver.abandonMessage(message!);
    }
    expect(counts).toEqual([0, 1, 2]);
    expect(await receiver.receiveMessages(1, { maxWaitTimeInMs: 300 })).toEqual([]);
    await receiver.close();

    const deadLetters = client.createReceiver(RETRY_QUEUE, { subQueueType: 'deadLetter' });
    const [dead] = await deadLetters.receiveMessages(1, { maxWaitTimeInMs: 2_000 });
    expect(dead!.messageId).toBe('exhaust-1');
    expect(dead!.deadLetterReason).toBe('MaxDeliveryCountExceeded');
    expect(dead!.deliveryCount).toBe(3);
    await deadLetters.completeMessage(dead!);
    await deadLetters.close();
  });

  it('renews a lock through $management and peeks without locking', async () => {
    const sender = client.createSender('scratch');
    await sender.sendMessages([
      { body: 'a', messageId: 'peek-a' },
      { body: 'b', messageId: 'peek-b' },
    ]);
    await sender.close();
    const receiver = client.createReceiver('scratch');
    const peeked = await receiver.peekMessages(10);
    expect(peeked.map((message) => message.messageId)).toEqual(['peek-a', 'peek-b']);
    expect(peer.counts('scratch')).toEqual({ active: 2, locked: 0 });
    const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2_000 });
    const firstLockedUntil = message!.lockedUntilUtc!.getTime();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const renewedUntil = await receiver.renewMessageLock(message!);
    expect(renewedUntil.getTime()).toBeGreaterThan(firstLockedUntil);
    await receiver.completeMessage(message!);
    await receiver.close();
    await drain('scratch');
  });

  it('fans a topic message out to every subscription', async () => {
    const sender = client.createSender(TOPIC);
    await sender.sendMessages({ body: { model: 'v7' }, subject: 'deployed' });
    await sender.close();
    for (const subscription of ['audit', 'deploy']) {
      const receiver = client.createReceiver(TOPIC, subscription);
      const messages = await receiver.receiveMessages(5, { maxWaitTimeInMs: 500 });
      expect(messages.map((message): unknown => message.body)).toEqual([{ model: 'v7' }]);
      expect(messages[0]!.subject).toBe('deployed');
      await receiver.completeMessage(messages[0]!);
      await receiver.close();
    }
  });

  it('receives and deletes without settlement', async () => {
    const sender = client.createSender('scratch');
    await sender.sendMessages([{ body: 1 }, { body: 2 }, { body: 3 }]);
    await sender.close();
    const receiver = client.createReceiver('scratch', { receiveMode: 'receiveAndDelete' });
    const bodies: unknown[] = [];
    while (bodies.length < 3) {
      const messages = await receiver.receiveMessages(3, { maxWaitTimeInMs: 1_000 });
      if (messages.length === 0) break;
      bodies.push(...messages.map((message): unknown => message.body));
    }
    expect(bodies).toEqual([1, 2, 3]);
    expect(peer.counts('scratch')).toEqual({ active: 0, locked: 0 });
    await receiver.close();
  });

  it('streams messages to subscribe() and auto-completes them', async () => {
    const receiver = client.createReceiver(QUEUE);
    const seen: string[] = [];
    const done = new Promise<void>((resolve, reject) => {
      receiver.subscribe(
        {
          processMessage: async (message) => {
            seen.push(String(message.messageId));
            if (seen.length === 5) resolve();
          },
          processError: async (args) => reject(args.error),
        },
        { maxConcurrentCalls: 2 },
      );
    });
    const sender = client.createSender(QUEUE);
    await sender.sendMessages([1, 2, 3, 4, 5].map((n) => ({ body: n, messageId: `stream-${n}` })));
    await sender.close();
    await done;
    await receiver.close();
    expect(seen.sort()).toEqual(['stream-1', 'stream-2', 'stream-3', 'stream-4', 'stream-5']);
    // Auto-complete settles after processMessage returns; give the last disposition a moment.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(peer.counts(QUEUE)).toEqual({ active: 0, locked: 0 });
  });

  it('holds scheduled messages until their time, and cancels them by sequence number', async () => {
    const sender = client.createSender('scratch');
    const soon = new Date(Date.now() + 700);
    await sender.sendMessages({ body: 'later', messageId: 'scheduled-1', scheduledEnqueueTimeUtc: soon });
    const [kept] = await sender.scheduleMessages({ body: 'kept', messageId: 'scheduled-2' }, soon);
    const [cancelled] = await sender.scheduleMessages({ body: 'cancelled', messageId: 'scheduled-3' }, soon);
    expect(cancelled!.toNumber()).toBeGreaterThan(kept!.toNumber());
    await sender.cancelScheduledMessages(cancelled!);
    await sender.close();
    expect(peer.counts('scratch')).toEqual({ active: 0, locked: 0 });

    const receiver = client.createReceiver('scratch', { receiveMode: 'receiveAndDelete' });
    const ids: string[] = [];
    const deadline = Date.now() + 3_000;
    while (Date.now() < deadline && ids.length < 2) {
      const messages = await receiver.receiveMessages(5, { maxWaitTimeInMs: 500 });
      ids.push(...messages.map((message) => String(message.messageId)));
    }
    expect(Date.now()).toBeGreaterThanOrEqual(soon.getTime());
    expect(ids.sort()).toEqual(['scheduled-1', 'scheduled-2']);
    expect(await receiver.receiveMessages(5, { maxWaitTimeInMs: 300 })).toEqual([]);
    await receiver.close();
  });

  it('iterates messages with getMessageIterator()', async () => {
    const sender = client.createSender('scratch');
    await sender.sendMessages([{ body: 'first' }, { body: 'second' }]);
    await sender.close();
    const receiver = client.createReceiver('scratch');
    const bodies: unknown[] = [];
    for await (const message of receiver.getMessageIterator()) {
      bodies.push(message.body);
      await receiver.completeMessage(message);
      if (bodies.length === 2) break;
    }
    expect(bodies).toEqual(['first', 'second']);
    await receiver.close();
    expect(peer.counts('scratch')).toEqual({ active: 0, locked: 0 });
  });

  it('refuses deferral, which it does not serve, and returns the message', async () => {
    const sender = client.createSender('scratch');
    await sender.sendMessages({ body: 'defer me', messageId: 'defer-1' });
    await sender.close();
    const receiver = client.createReceiver('scratch');
    const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2_000 });
    await expect(receiver.deferMessage(message!)).rejects.toThrow(/deferral/);
    const [again] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2_000 });
    expect(again!.messageId).toBe('defer-1');
    expect(again!.deliveryCount).toBe(0);
    await receiver.completeMessage(again!);
    await receiver.close();
    expect(peer.counts('scratch')).toEqual({ active: 0, locked: 0 });
  });

  it('refuses to send to or receive from an entity that does not exist', async () => {
    const sender = client.createSender('no-such-queue');
    await expect(sender.sendMessages({ body: 'x' })).rejects.toMatchObject({
      code: 'MessagingEntityNotFound',
    });
    await sender.close();
    const receiver = client.createReceiver('no-such-queue');
    await expect(receiver.receiveMessages(1, { maxWaitTimeInMs: 500 })).rejects.toMatchObject({
      code: 'MessagingEntityNotFound',
    });
    await receiver.close();
  });
});

describe('local Service Bus peer lock expiry', () => {
  let peer: ServiceBusPeer;
  let client: ServiceBusClient;

  beforeAll(async () => {
    peer = await startServiceBusPeer({ entities: { queues: ['slow'], topics: {} }, lockDurationMs: 1_500 });
    client = new ServiceBusClient(peer.connectionString, {
      retryOptions: { maxRetries: 0, timeoutInMs: 5_000 },
    });
  });

  afterAll(async () => {
    await client.close();
    await peer.stop();
  });

  it('redelivers a message whose lock expired, and refuses the stale settlement', async () => {
    const sender = client.createSender('slow');
    await sender.sendMessages({ body: 'slow consumer', messageId: 'lock-1' });
    await sender.close();
    const receiver = client.createReceiver('slow', { maxAutoLockRenewalDurationInMs: 0 });
    const [first] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2_000 });
    expect(first!.lockedUntilUtc!.getTime() - Date.now()).toBeLessThanOrEqual(1_500);
    expect(peer.counts('slow')).toEqual({ active: 0, locked: 1 });
    const [again] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 4_000 });
    expect(again!.messageId).toBe('lock-1');
    expect(again!.deliveryCount).toBe(1);
    await expect(receiver.completeMessage(first!)).rejects.toMatchObject({ code: 'MessageLockLost' });
    await receiver.completeMessage(again!);
    await receiver.close();
    expect(peer.counts('slow')).toEqual({ active: 0, locked: 0 });
  });

  it("keeps a message locked past the lock duration through the SDK's automatic renewal", async () => {
    const sender = client.createSender('slow');
    await sender.sendMessages({ body: 'long job', messageId: 'renewed-1' });
    await sender.close();
    const receiver = client.createReceiver('slow');
    const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2_000 });
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(peer.counts('slow')).toEqual({ active: 0, locked: 1 });
    await receiver.completeMessage(message!);
    await receiver.close();
    expect(peer.counts('slow')).toEqual({ active: 0, locked: 0 });
  });
});
