/**
 * CLI for the local function host (development tool). Run from the app folder after `npm run build`:
 *   node dist/local/host/main.js [entry]
 * Environment: FUNCTIONS_HTTP_PORT (default 7071), LOCAL_FUNCTION_KEY (default random, printed),
 * AzureWebJobsStorage (e.g. Azurite's connection string or `UseDevelopmentStorage=true`), LOCAL_APP_ENTRY
 * (entry file or glob; default package.json `main`). local.settings.json Values fill missing settings.
 */
import type { HostExtension } from './extension';
import { DurableExtension } from './durable/extension';
import { LocalFunctionHost } from './host';

async function main(): Promise<void> {
  const portText = process.env.FUNCTIONS_HTTP_PORT;
  const port = portText === undefined || portText === '' ? 7071 : Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`FUNCTIONS_HTTP_PORT "${portText}" is not a port number`);
  }

  const extensions: HostExtension[] = [new DurableExtension({ taskHubName: process.env.DURABLE_TASK_HUB })];

  const host = new LocalFunctionHost({
    port,
    entry: process.argv[2] ?? process.env.LOCAL_APP_ENTRY,
    storageConnectionString: process.env.AzureWebJobsStorage,
    extensions,
  });
  await host.start();

  const lines = [
    `Local function host listening at ${host.baseUrl}`,
    `Function key: ${host.functionKey}`,
    'Functions:',
  ];
  for (const fn of host.registry.list()) {
    const route =
      fn.trigger.type.toLowerCase() === 'httptrigger'
        ? ` ${host.baseUrl}/${host.routePrefix}/${typeof fn.trigger.route === 'string' ? fn.trigger.route : fn.name}`
        : '';
    lines.push(`  ${fn.name} [${fn.trigger.type}]${route}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${signal}: stopping the host\n`);
    host.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(
          `Stopping failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
        );
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
