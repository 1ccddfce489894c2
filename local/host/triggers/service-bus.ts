/**
 * Service Bus queue and topic-subscription triggers, on the real `@azure/service-bus` SDK in peek-lock mode, as
 * the Functions Service Bus extension runs them: a message is completed when the function succeeds and abandoned
 * when it throws, so the broker's max delivery count dead-letters a message that keeps failing. A function that
 * throws an error carrying string `deadLetterReason` (and optionally `deadLetterErrorDescription`) has its message
 * dead-lettered at once with that reason, which is what a function with Service Bus message actions does in
 * Azure; retrying a message that can never succeed only delays the operator's view of it.
 *
 * The message reaches the function as JSON when its body is JSON, else as a string, with the trigger metadata the
 * extension passes (MessageId, DeliveryCount, EnqueuedTimeUtc, ApplicationProperties, ...).
 */
import {
  ServiceBusClient,
  type ServiceBusReceivedMessage,
  type ServiceBusReceiver,
} from '@azure/service-bus';
import type { RpcTypedData } from '../core-types';
import type { RegisteredFunction } from '../registry';
import { bindingOption } from '../settings';
import { errorMessage, type TriggerEnvironment, type TriggerListener } from './trigger';

export interface ServiceBusTriggerListenerOptions {
  /** Messages handled at once per function (host.json `extensions.serviceBus.maxConcurrentCalls`). Default 4. */
  maxConcurrentCalls?: number;
}

interface Watched {
  readonly fn: RegisteredFunction;
  readonly client: ServiceBusClient;
  readonly receiver: ServiceBusReceiver;
  subscription?: { close(): Promise<void> };
}

/** The functions with a Service Bus trigger whose connection setting holds a connection string. */
export function serviceBusFunctions(env: TriggerEnvironment): RegisteredFunction[] {
  return env.registry
    .list()
    .filter((fn) => ['servicebustrigger'].includes(fn.trigger.type.toLowerCase()))
    .filter((fn) => {
      const name = connectionName(fn);
      const present = (env.settings[name] ?? '') !== '';
      if (!present) {
        env.log(
          'warning',
          `Function "${fn.name}": Service Bus connection "${name}" is not set; not triggered`,
        );
      }
      return present;
    });
}

function connectionName(fn: RegisteredFunction): string {
  const connection = fn.trigger.connection;
  return typeof connection === 'string' && connection !== '' ? connection : 'AzureWebJobsServiceBus';
}

export class ServiceBusTriggerListener implements TriggerListener {
  readonly #env: TriggerEnvironment;
  readonly #maxConcurrentCalls: number;
  readonly #watched: Watched[] = [];
  readonly #inFlight = new Set<Promise<void>>();

  constructor(env: TriggerEnvironment, options: ServiceBusTriggerListenerOptions = {}) {
    this.#env = env;
    this.#maxConcurrentCalls = options.maxConcurrentCalls ?? 4;
  }

  async start(): Promise<void> {
    for (const fn of serviceBusFunctions(this.#env)) {
      const where = `Function "${fn.name}"`;
      const client = new ServiceBusClient(this.#env.settings[connectionName(fn)] ?? '');
      const receiver =
        typeof fn.trigger.queueName === 'string'
          ? client.createReceiver(bindingOption(fn.trigger, 'queueName', where, this.#env.settings), {
              receiveMode: 'peekLock',
            })
          : client.createReceiver(
              bindingOption(fn.trigger, 'topicName', where, this.#env.settings),
              bindingOption(fn.trigger, 'subscriptionName', where, this.#env.settings),
              { receiveMode: 'peekLock' },
            );
      const watched: Watched = { fn, client, receiver };
      watched.subscription = receiver.subscribe(
        {
          processMessage: async (message) => {
            const handled = this.#handle(watched, message);
            this.#inFlight.add(handled);
            try {
              await handled;
            } finally {
              this.#inFlight.delete(handled);
            }
          },
          processError: async (args) => {
            this.#env.log('error', `Service Bus trigger ${fn.name}: ${args.error.message}`);
          },
        },
        { autoCompleteMessages: false, maxConcurrentCalls: this.#maxConcurrentCalls },
      );
      this.#watched.push(watched);
    }
  }

  async stop(): Promise<void> {
    for (const watched of this.#watched) await watched.subscription?.close();
    // Settling needs the receiver's link, so it closes only after the invocations in flight have settled.
    await Promise.allSettled([...this.#inFlight]);
    for (const watched of this.#watched) {
      await watched.receiver.close();
      await watched.client.close();
    }
    this.#watched.length = 0;
  }

  async #handle(watched: Watched, message: ServiceBusReceivedMessage): Promise<void> {
    const { fn, receiver } = watched;
    let failure: unknown;
    try {
      await this.#env.registry.invoke(fn.name, {
        triggerData: messageData(message),
        triggerMetadata: triggerMetadata(message),
      });
    } catch (error: unknown) {
      failure = error;
    }
    if (failure === undefined) {
      await receiver.completeMessage(message);
      return;
    }
    const deadLetter = deadLetterRequest(failure);
    const id = String(message.messageId);
    if (deadLetter !== undefined) {
      this.#env.log(
        'warning',
        `Service Bus trigger ${fn.name}: message ${id} dead-lettered: ${deadLetter.deadLetterReason}`,
      );
      await receiver.deadLetterMessage(message, deadLetter);
      return;
    }
    this.#env.log(
      'error',
      `Service Bus trigger ${fn.name} failed for message ${id} (delivery ${(message.deliveryCount ?? 0) + 1}): ${errorMessage(failure)}`,
    );
    await receiver.abandonMessage(message);
  }
}

function deadLetterRequest(
  error: unknown,
): { deadLetterReason: string; deadLetterErrorDescription: string } | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { deadLetterReason, deadLetterErrorDescription } = error as Record<string, unknown>;
  if (typeof deadLetterReason !== 'string' || deadLetterReason === '') return undefined;
  return {
    deadLetterReason,
    deadLetterErrorDescription:
      typeof deadLetterErrorDescription === 'string' ? deadLetterErrorDescription : errorMessage(error),
  };
}

function bodyText(body: unknown): string {
  if (Buffer.isBuffer(body)) return body.toString('utf8');
  if (body instanceof Uint8Array) return Buffer.from(body).toString('utf8');
  if (typeof body === 'string') return body;
  return JSON.stringify(body) ?? '';
}

function messageData(message: ServiceBusReceivedMessage): RpcTypedData {
  const text = bodyText(message.body);
  try {
    JSON.parse(text);
    return { json: text };
  } catch {
    // Not JSON: the extension hands such bodies over as plain strings.
    return { string: text };
  }
}

function triggerMetadata(message: ServiceBusReceivedMessage): Record<string, RpcTypedData> {
  const metadata: Record<string, RpcTypedData> = {
    MessageId: { string: String(message.messageId ?? '') },
    // AMQP's header delivery-count counts PRIOR attempts; the Functions host reports attempts including this one.
    DeliveryCount: { int: (message.deliveryCount ?? 0) + 1 },
    ApplicationProperties: { json: JSON.stringify(message.applicationProperties ?? {}) },
    UserProperties: { json: JSON.stringify(message.applicationProperties ?? {}) },
  };
  const optional: Record<string, string | undefined> = {
    EnqueuedTimeUtc: message.enqueuedTimeUtc?.toISOString(),
    ExpiresAtUtc: message.expiresAtUtc?.toISOString(),
    LockToken: message.lockToken,
    ContentType: message.contentType,
    CorrelationId: message.correlationId === undefined ? undefined : String(message.correlationId),
    Subject: message.subject,
    SequenceNumber: message.sequenceNumber?.toString(),
  };
  for (const [key, value] of Object.entries(optional))
    if (value !== undefined) metadata[key] = { string: value };
  return metadata;
}
