import * as path from 'path';
import { ServiceBusClient } from '@azure/service-bus';
import { LocalFunctionHost } from '../../../local/host/host';
import { startServiceBusPeer, type ServiceBusPeer } from '../../../local/servicebus/peer';
import { startAzurite, type RunningAzurite } from '../../support/azurite';
import { waitFor } from '../../support/wait';

jest.mock('@azure/functions-core', () => jest.requireActual<object>('../../../local/host/core'), {
  virtual: true,
});

const entry = path.join(__dirname, '../../fixtures/apps/servicebus/index.js');

interface Call {
  name: string;
  value: Record<string, any>;
}
const calls = (name: string): Record<string, any>[] =>
  ((globalThis as { hostFixtureCalls?: Call[] }).hostFixtureCalls ?? [])
    .filter((c) => c.name === name)
    .map((c) => c.value);

describe('Service Bus triggers against the local peer', () => {
  let azurite: RunningAzurite;
  let peer: ServiceBusPeer;
  let host: LocalFunctionHost;
  let client: ServiceBusClient;
  const logs: string[] = [];

  beforeAll(async () => {
    azurite = await startAzurite();
    peer = await startServiceBusPeer({
      entities: { queues: ['orders'], topics: { events: ['audit'] } },
      maxDeliveryCount: 3,
    });
    client = new ServiceBusClient(peer.connectionString);
    host = new LocalFunctionHost({
      appRoot: path.dirname(entry),
      entry,
      port: 0,
      functionKey: 'k',
      settings: {
        AzureWebJobsStorage: azurite.connectionString,
        ServiceBus: peer.connectionString,
        ORDERS_QUEUE: 'orders',
      },
      log: (level, msg) => logs.push(`${level} ${msg}`),
    });
    await host.start();
  }, 60_000);

  afterAll(async () => {
    await host?.stop();
    await client?.close();
    await peer?.stop();
    await azurite?.stop();
  });

  it('passes JSON bodies and trigger metadata, and completes the message on success', async () => {
    const sender = client.createSender('orders');
    await sender.sendMessages({
      body: { kind: 'ok', id: 1 },
      messageId: 'm-ok',
      applicationProperties: { tenant: 't1' },
    });
    await sender.close();
    await waitFor('the ok message', () => calls('onOrder').some((c) => c.messageId === 'm-ok'));
    const call = calls('onOrder').find((c) => c.messageId === 'm-ok')!;
    expect(call.message).toEqual({ kind: 'ok', id: 1 });
    expect(call.deliveryCount).toBe(1);
    expect(call.applicationProperties).toEqual({ tenant: 't1' });
    expect(Number.isNaN(Date.parse(String(call.enqueuedTimeUtc)))).toBe(false);
    await waitFor(
      'the queue to drain',
      () => peer.counts('orders').active + peer.counts('orders').locked === 0,
    );
    expect(peer.counts('orders/$DeadLetterQueue').active).toBe(0);
  });

  it('abandons a failing message until the max delivery count dead-letters it', async () => {
    const sender = client.createSender('orders');
    await sender.sendMessages({ body: { kind: 'flaky' }, messageId: 'm-flaky' });
    await sender.close();
    await waitFor('dead-lettering', () => peer.counts('orders/$DeadLetterQueue').active === 1);
    expect(
      calls('onOrder')
        .filter((c) => c.messageId === 'm-flaky')
        .map((c): unknown => c.deliveryCount),
    ).toEqual([1, 2, 3]);
    const receiver = client.createReceiver('orders', {
      subQueueType: 'deadLetter',
      receiveMode: 'receiveAndDelete',
    });
    const [dead] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    await receiver.close();
    expect(dead?.deadLetterReason).toBe('MaxDeliveryCountExceeded');
  });

  it('dead-letters at once, with the reason the function gave, when the error asks for it', async () => {
    const sender = client.createSender('orders');
    await sender.sendMessages({ body: { kind: 'poison' }, messageId: 'm-poison' });
    await sender.close();
    await waitFor('dead-lettering', () => peer.counts('orders/$DeadLetterQueue').active === 1);
    expect(calls('onOrder').filter((c) => c.messageId === 'm-poison')).toHaveLength(1);
    const receiver = client.createReceiver('orders', {
      subQueueType: 'deadLetter',
      receiveMode: 'receiveAndDelete',
    });
    const [dead] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    await receiver.close();
    expect(dead?.deadLetterReason).toBe('invalid-order');
    expect(dead?.deadLetterErrorDescription).toBe('order has no lines');
  });

  it('triggers topic subscriptions, with plain text bodies as strings', async () => {
    const sender = client.createSender('events');
    await sender.sendMessages({ body: 'hello, not json' });
    await sender.close();
    await waitFor('the topic message', () => calls('onEvent').length === 1);
    expect(calls('onEvent')[0]!.message).toBe('hello, not json');
  });
});
