/**
 * Runs the local Service Bus peer until interrupted and prints the connection string to use.
 *
 *   node dist/local/servicebus/main.js --port 5672 --queue predictions --topic model-events:audit,deploy
 *
 * Options: --port (default 5672, the emulator's; 0 picks a free one), --host (default 127.0.0.1),
 * --queue NAME (repeatable), --topic NAME:SUB1,SUB2 (repeatable), --max-delivery-count (default 10),
 * --lock-duration-ms (default 30000).
 */
import { parseArgs } from 'node:util';
import { startServiceBusPeer, type ServiceBusPeerOptions } from './peer';

export function parsePeerArguments(args: readonly string[]): ServiceBusPeerOptions {
  const { values } = parseArgs({
    args: [...args],
    strict: true,
    options: {
      port: { type: 'string', default: '5672' },
      host: { type: 'string', default: '127.0.0.1' },
      queue: { type: 'string', multiple: true, default: [] },
      topic: { type: 'string', multiple: true, default: [] },
      'max-delivery-count': { type: 'string', default: '10' },
      'lock-duration-ms': { type: 'string', default: '30000' },
    },
  });
  const integer = (name: string, text: string, min: number): number => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < min)
      throw new Error(`--${name} must be an integer >= ${min}, got '${text}'`);
    return value;
  };
  const topics: Record<string, string[]> = {};
  for (const spec of values.topic) {
    const [name, subscriptions] = spec.split(':');
    if (name === undefined || name === '' || subscriptions === undefined || subscriptions === '') {
      throw new Error(`--topic wants NAME:SUB1,SUB2, got '${spec}'`);
    }
    topics[name] = subscriptions.split(',').filter((subscription) => subscription !== '');
  }
  if (values.queue.length === 0 && Object.keys(topics).length === 0) {
    throw new Error('declare at least one --queue or --topic');
  }
  return {
    port: integer('port', values.port, 0),
    host: values.host,
    entities: { queues: values.queue, topics },
    maxDeliveryCount: integer('max-delivery-count', values['max-delivery-count'], 1),
    lockDurationMs: integer('lock-duration-ms', values['lock-duration-ms'], 1),
  };
}

async function main(): Promise<void> {
  const peer = await startServiceBusPeer(parsePeerArguments(process.argv.slice(2)));
  console.log(`Service Bus peer listening on port ${peer.port}`);
  console.log(`ServiceBusConnection=${peer.connectionString}`);
  const shutdown = (): void => {
    peer.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
