/**
 * A Service Bus trigger for the local function host: a peek-lock receive loop on the real SDK that completes a
 * message when the handler resolves and abandons it when the handler throws, so delivery counts and
 * dead-lettering behave as they do under the Functions runtime. Works against the local peer or a real
 * namespace alike.
 */
import {
  ServiceBusClient,
  type ServiceBusReceivedMessage,
  type ServiceBusReceiver,
  type ServiceBusReceiverOptions,
} from '@azure/service-bus';

export interface ServiceBusTriggerOptions {
  /** A connection string, e.g. the local peer's `connectionString`. */
  readonly connectionString: string;
  /** `queue`, `queue/$DeadLetterQueue`, `topic/Subscriptions/subscription` (Service Bus entity path form). */
  readonly entityPath: string;
  /** Runs once per message; resolve to complete the message, throw to abandon it. */
  readonly handler: (message: ServiceBusReceivedMessage) => Promise<void>;
  /** Messages handled at once (the Functions host's `maxConcurrentCalls`). Default: 1. */
  readonly maxConcurrentCalls?: number;
  /**
   * Where failures go: a handler that threw (its message was abandoned), or a receive/settle error. The loop
   * keeps running after either. Default: written to stderr.
   */
  readonly onError?: (error: Error, message?: ServiceBusReceivedMessage) => void;
}

export interface ServiceBusTrigger {
  /** Stops taking messages, waits for the handlers in flight to finish and settle, then closes the client. */
  stop(): Promise<void>;
}

/** Splits an entity path into the arguments `ServiceBusClient.createReceiver` takes. */
export function parseEntityPath(
  entityPath: string,
):
  | { queueName: string; subQueue?: 'deadLetter' }
  | { topicName: string; subscriptionName: string; subQueue?: 'deadLetter' } {
  const deadLetterSuffix = '/$DeadLetterQueue';
  const isDeadLetter = entityPath.endsWith(deadLetterSuffix);
  const path = isDeadLetter ? entityPath.slice(0, -deadLetterSuffix.length) : entityPath;
  const subQueue = isDeadLetter ? { subQueue: 'deadLetter' as const } : {};
  const match = /^([^/]+)\/Subscriptions\/([^/]+)$/i.exec(path);
  if (match !== null) return { topicName: match[1] ?? '', subscriptionName: match[2] ?? '', ...subQueue };
  if (path === '' || path.includes('/')) throw new Error(`not a queue or subscription path: '${entityPath}'`);
  return { queueName: path, ...subQueue };
}

export function startServiceBusTrigger(options: ServiceBusTriggerOptions): ServiceBusTrigger {
  const reportError =
    options.onError ??
    ((error: Error, message?: ServiceBusReceivedMessage) => {
      const id = message === undefined ? '' : ` (message ${String(message.messageId)})`;
      console.error(`[servicebus-trigger ${options.entityPath}] ${error.message}${id}`);
    });
  const client = new ServiceBusClient(options.connectionString);
  const entity = parseEntityPath(options.entityPath);
  const receiverOptions: ServiceBusReceiverOptions = {
    receiveMode: 'peekLock',
    ...(entity.subQueue === undefined ? {} : { subQueueType: entity.subQueue }),
  };
  const receiver: ServiceBusReceiver =
    'queueName' in entity
      ? client.createReceiver(entity.queueName, receiverOptions)
      : client.createReceiver(entity.topicName, entity.subscriptionName, receiverOptions);
  const inFlight = new Set<Promise<void>>();

  const handle = async (message: ServiceBusReceivedMessage): Promise<void> => {
    let handlerError: Error | undefined;
    try {
      await options.handler(message);
    } catch (error: unknown) {
      handlerError = error instanceof Error ? error : new Error(String(error));
    }
    if (handlerError === undefined) {
      await receiver.completeMessage(message);
      return;
    }
    reportError(handlerError, message);
    await receiver.abandonMessage(message);
  };

  const subscription = receiver.subscribe(
    {
      processMessage: async (message) => {
        const handled = handle(message);
        inFlight.add(handled);
        try {
          await handled;
        } finally {
          inFlight.delete(handled);
        }
      },
      processError: async (args) => {
        reportError(args.error);
      },
    },
    { autoCompleteMessages: false, maxConcurrentCalls: options.maxConcurrentCalls ?? 1 },
  );

  let stopping: Promise<void> | undefined;
  return {
    stop(): Promise<void> {
      stopping ??= (async () => {
        await subscription.close();
        // Settlement needs the link, so close it only after the handlers in flight are done.
        await Promise.allSettled([...inFlight]);
        await receiver.close();
        await client.close();
      })();
      return stopping;
    },
  };
}
