/**
 * Storage queue triggers as the Functions host runs them: poll, hide each received message for the duration
 * of its invocation, delete it on success, make it visible again on failure, and after `maxDequeueCount` (5)
 * failed dequeues move it to `<queue>-poison`. Messages are base64 unless host.json says
 * `extensions.queues.messageEncoding: "none"`, as in Azure (the SDK sends plain text unless told otherwise).
 */
import { QueueClient, RestError, type DequeuedMessageItem } from '@azure/storage-queue';
import type { RpcTypedData } from '../core-types';
import type { RegisteredFunction } from '../registry';
import { bindingOption, storageConnectionString } from '../settings';
import { errorMessage, PollingLoop, type TriggerEnvironment, type TriggerListener } from './trigger';

export interface QueueTriggerOptions {
  /** Pause between polls when a queue was empty. Default 1000 ms. */
  pollIntervalMs?: number;
  /** Messages fetched per poll (host.json `batchSize`). Default 16. */
  batchSize?: number;
  /** Dequeues before a message is poisoned (host.json `maxDequeueCount`). Default 5. */
  maxDequeueCount?: number;
  /** Seconds a failed message stays hidden before its retry (host.json `visibilityTimeout`). Default 0. */
  retryVisibilityTimeoutSeconds?: number;
  /** host.json `messageEncoding`. Default `base64`. */
  messageEncoding?: 'base64' | 'none';
}

/** How long a message stays invisible while its function runs. */
const PROCESSING_VISIBILITY_SECONDS = 600;

interface WatchedQueue {
  fn: RegisteredFunction;
  queue: QueueClient;
  poison: QueueClient;
}

export class QueueTriggerListener implements TriggerListener {
  readonly #env: TriggerEnvironment;
  readonly #options: Required<QueueTriggerOptions>;
  readonly #watched: WatchedQueue[];
  readonly #loop: PollingLoop;

  constructor(env: TriggerEnvironment, options: QueueTriggerOptions = {}) {
    this.#env = env;
    this.#options = {
      pollIntervalMs: options.pollIntervalMs ?? 1000,
      batchSize: options.batchSize ?? 16,
      maxDequeueCount: options.maxDequeueCount ?? 5,
      retryVisibilityTimeoutSeconds: options.retryVisibilityTimeoutSeconds ?? 0,
      messageEncoding: options.messageEncoding ?? 'base64',
    };
    this.#watched = env.registry.byTriggerType('queueTrigger').map((fn) => {
      const queueName = bindingOption(
        fn.trigger,
        'queueName',
        `Function "${fn.name}"`,
        env.settings,
      ).toLowerCase();
      const connectionString = storageConnectionString(fn.trigger.connection, env.settings);
      return {
        fn,
        queue: new QueueClient(connectionString, queueName),
        poison: new QueueClient(connectionString, `${queueName}-poison`),
      };
    });
    this.#loop = new PollingLoop(
      'queue trigger',
      this.#options.pollIntervalMs,
      () => this.pollOnce(),
      env.log,
    );
  }

  async start(): Promise<void> {
    if (this.#watched.length > 0) this.#loop.start();
  }

  async stop(): Promise<void> {
    await this.#loop.stop();
  }

  /** Drains what is visible now from every watched queue, one batch per queue at a time. */
  async pollOnce(): Promise<void> {
    for (const watched of this.#watched) {
      for (;;) {
        const messages = await receive(watched.queue, this.#options.batchSize);
        if (messages.length === 0) break;
        await Promise.all(messages.map((m) => this.#process(watched, m)));
      }
    }
  }

  async #process(watched: WatchedQueue, message: DequeuedMessageItem): Promise<void> {
    const { fn, queue } = watched;
    try {
      const text = this.#decode(message.messageText);
      const triggerMetadata: Record<string, RpcTypedData> = {
        QueueTrigger: { string: text },
        Id: { string: message.messageId },
        DequeueCount: { int: message.dequeueCount },
        InsertionTime: { string: message.insertedOn.toISOString() },
        ExpirationTime: { string: message.expiresOn.toISOString() },
        NextVisibleTime: { string: message.nextVisibleOn.toISOString() },
        PopReceipt: { string: message.popReceipt },
      };
      await this.#env.registry.invoke(fn.name, { triggerData: { string: text }, triggerMetadata });
      await queue.deleteMessage(message.messageId, message.popReceipt);
      return;
    } catch (err: unknown) {
      this.#env.log(
        'error',
        `Queue trigger ${fn.name} failed for message ${message.messageId} (dequeue ${message.dequeueCount}): ${errorMessage(err)}`,
      );
    }
    if (message.dequeueCount >= this.#options.maxDequeueCount) {
      await watched.poison.createIfNotExists();
      await watched.poison.sendMessage(message.messageText);
      await queue.deleteMessage(message.messageId, message.popReceipt);
      this.#env.log('warning', `Message ${message.messageId} moved to ${watched.poison.name}`);
    } else {
      await queue.updateMessage(
        message.messageId,
        message.popReceipt,
        undefined,
        this.#options.retryVisibilityTimeoutSeconds,
      );
    }
  }

  #decode(text: string): string {
    if (this.#options.messageEncoding === 'none') return text;
    if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
      throw new Error(
        'message is not valid base64 (host.json messageEncoding is "base64", the Azure default)',
      );
    }
    return Buffer.from(text, 'base64').toString('utf8');
  }
}

async function receive(queue: QueueClient, count: number): Promise<DequeuedMessageItem[]> {
  try {
    const response = await queue.receiveMessages({
      numberOfMessages: count,
      visibilityTimeout: PROCESSING_VISIBILITY_SECONDS,
    });
    return response.receivedMessageItems;
  } catch (err: unknown) {
    // Like the host, wait for a queue that does not exist yet instead of failing.
    if (err instanceof RestError && err.statusCode === 404) return [];
    throw err;
  }
}
