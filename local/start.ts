/**
 * `npm start`: the whole system on this machine in one command — Azurite and the Cosmos DB emulator (data in the
 * git-ignored `.local/`, surviving restarts), the Service Bus peer (in memory), the app's containers created by the same bootstrap code Azure runs,
 * and the local function host serving every registration of `functions/` (HTTP on 7071, blob/queue/timer
 * triggers, durable orchestrations). Ctrl-C stops the host first, then the emulators; nothing is left running.
 *
 * Settings (environment): FUNCTIONS_HTTP_PORT (7071), LOCAL_FUNCTION_KEY (random, printed), HS_LOCAL_DATA_DIR
 * (`.local`), HS_LOCAL_PORTS=free to let the OS pick emulator ports (used by the tests).
 */
import * as path from 'path';
import { loadConfig } from '../shared/config';
import { ensureResources } from '../shared/platform/bootstrap';
import { createPlatformClients } from '../shared/platform/clients';
import { SERVICE_BUS_ENTITIES } from '../shared/platform/resources';
import { DurableExtension } from './host/durable/extension';
import { LocalFunctionHost } from './host/host';
import { startServiceBusPeer, type ServiceBusPeer } from './servicebus/peer';
import { messageOf } from './services/process';
import {
  DEFAULT_LOCAL_DATA_DIR,
  DEFAULT_LOCAL_PORTS,
  startLocalStack,
  type LocalStack,
} from './services/stack';

/** AMQP port of the local Service Bus peer (the standard AMQP port). */
const LOCAL_SERVICE_BUS_PORT = 5672;

/** The project root: `dist/local/start.js` → two folders up. */
const APP_ROOT = path.resolve(__dirname, '..', '..');

function parsePort(text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`FUNCTIONS_HTTP_PORT "${text}" is not a port number (0–65535)`);
  }
  return port;
}

async function main(): Promise<void> {
  const httpPort = parsePort(process.env.FUNCTIONS_HTTP_PORT, 7071);
  const dataDir = path.resolve(APP_ROOT, process.env.HS_LOCAL_DATA_DIR ?? DEFAULT_LOCAL_DATA_DIR);
  const freePorts = process.env.HS_LOCAL_PORTS === 'free';

  let stack: LocalStack | undefined;
  let serviceBus: ServiceBusPeer | undefined;
  let host: LocalFunctionHost | undefined;
  let stopping = false;
  const shutdown = async (reason: string, exitCode: number): Promise<never> => {
    if (!stopping) {
      stopping = true;
      console.log(`${reason}: stopping the function host and the emulators`);
      try {
        await host?.stop();
      } catch (error: unknown) {
        console.error(`stopping the host failed: ${messageOf(error)}`);
        exitCode = 1;
      }
      try {
        await serviceBus?.stop();
      } catch (error: unknown) {
        console.error(`stopping the Service Bus peer failed: ${messageOf(error)}`);
        exitCode = 1;
      }
      try {
        await stack?.stop();
      } catch (error: unknown) {
        console.error(`stopping the emulators failed: ${messageOf(error)}`);
        exitCode = 1;
      }
    }
    process.exit(exitCode);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => void shutdown(signal, 0));
  }

  try {
    stack = await startLocalStack({
      dataDir,
      ports: freePorts ? undefined : DEFAULT_LOCAL_PORTS,
      persist: true,
      cosmosSnapshotIntervalMs: 30_000,
      exitOnSignal: false,
    });
    // Service Bus has no installable emulator: the project's own AMQP peer serves the real SDK (in memory).
    serviceBus = await startServiceBusPeer({
      port: freePorts ? 0 : LOCAL_SERVICE_BUS_PORT,
      entities: {
        queues: [SERVICE_BUS_ENTITIES.feedbackQueue],
        topics: { [SERVICE_BUS_ENTITIES.lifecycleTopic]: [SERVICE_BUS_ENTITIES.lifecycleSubscription] },
      },
    });
    // The app reads its settings from the environment once, at first use: point it at the emulators first.
    for (const [name, value] of Object.entries(stack.env)) process.env[name] = value;
    process.env.ServiceBus = serviceBus.connectionString;

    const config = loadConfig(process.env);
    const clients = createPlatformClients(config);
    try {
      const ensured = await ensureResources({ blobs: clients.dataBlobs, database: clients.database });
      const created = ensured.filter((resource) => resource.created).map((resource) => resource.name);
      console.log(`resources: ${ensured.length} declared; created now: ${created.join(', ') || 'none'}`);
    } finally {
      await clients.dispose();
    }

    host = new LocalFunctionHost({
      appRoot: APP_ROOT,
      port: httpPort,
      storageConnectionString: stack.env.AzureWebJobsStorage,
      extensions: [new DurableExtension({ taskHubName: config.durableTaskHub })],
    });
    await host.start();
  } catch (error: unknown) {
    console.error(`start failed: ${messageOf(error)}`);
    await shutdown('error', 1);
  }
  if (!host || !stack) return;

  const lines = [
    `emulators: pids ${stack.pids.join(', ')}; data in ${dataDir}`,
    `service bus peer (in memory): ${process.env.ServiceBus ?? ''}`,
    `local function host: ${host.baseUrl}`,
    `function key (x-functions-key header or ?code=): ${host.functionKey}`,
    'functions:',
    ...host.registry.list().map((fn) => {
      const route =
        fn.trigger.type.toLowerCase() === 'httptrigger'
          ? ` ${host.baseUrl}/${host.routePrefix}/${typeof fn.trigger.route === 'string' ? fn.trigger.route : fn.name}`
          : '';
      return `  ${fn.name} [${fn.trigger.type}]${route}`;
    }),
    'ready. Ctrl-C stops everything.',
  ];
  console.log(lines.join('\n'));
}

void main();
