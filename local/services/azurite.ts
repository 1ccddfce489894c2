/** Azurite (Blob, Queue, Table) in a child process, with its data in a folder that survives restarts. */
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { TableServiceClient } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { findFreePort, startNodeProcess, waitUntilReady, type ManagedProcess } from './process';

/** Azurite's built-in development account: published in Microsoft's docs, not a secret. */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export const AZURITE_DEFAULT_PORTS = { blob: 10000, queue: 10001, table: 10002 } as const;

export interface AzuritePorts {
  readonly blob: number;
  readonly queue: number;
  readonly table: number;
}

export interface AzuriteOptions {
  /** Azurite's workspace (its metadata databases and blob extents); created when missing. */
  readonly dataDir: string;
  /** Fixed ports; free ports chosen by the OS when absent. */
  readonly ports?: AzuritePorts;
  readonly readyTimeoutMs?: number;
}

export interface RunningAzurite {
  readonly process: ManagedProcess;
  readonly ports: AzuritePorts;
  /** A connection string with explicit endpoints (works on any ports, unlike UseDevelopmentStorage=true). */
  readonly connectionString: string;
  stop(): Promise<void>;
}

export function azuriteConnectionString(ports: AzuritePorts, host = '127.0.0.1'): string {
  return (
    `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};` +
    `BlobEndpoint=http://${host}:${ports.blob}/${AZURITE_ACCOUNT};` +
    `QueueEndpoint=http://${host}:${ports.queue}/${AZURITE_ACCOUNT};` +
    `TableEndpoint=http://${host}:${ports.table}/${AZURITE_ACCOUNT};`
  );
}

function azuriteScript(): string {
  const packageJsonPath = require.resolve('azurite/package.json');
  const manifest = JSON.parse(readFileSync(packageJsonPath, 'utf8')) as { bin: Record<string, string> };
  const bin = manifest.bin.azurite;
  if (bin === undefined) throw new Error(`azurite: no 'azurite' bin in ${packageJsonPath}`);
  return join(dirname(packageJsonPath), bin);
}

export async function startAzurite(options: AzuriteOptions): Promise<RunningAzurite> {
  mkdirSync(options.dataDir, { recursive: true });
  // With OS-chosen ports another process can grab one between our probe and Azurite's bind; try again then.
  const attempts = options.ports === undefined ? 3 : 1;
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const ports = options.ports ?? {
      blob: await findFreePort(),
      queue: await findFreePort(),
      table: await findFreePort(),
    };
    const child = startNodeProcess({
      name: 'azurite',
      script: azuriteScript(),
      args: [
        '--location',
        options.dataDir,
        '--blobHost',
        '127.0.0.1',
        '--blobPort',
        String(ports.blob),
        '--queueHost',
        '127.0.0.1',
        '--queuePort',
        String(ports.queue),
        '--tableHost',
        '127.0.0.1',
        '--tablePort',
        String(ports.table),
        // The current SDKs send API versions newer than Azurite knows; without this every call fails.
        '--skipApiVersionCheck',
        // The machine has no internet access, and tests should not phone home anyway.
        '--disableTelemetry',
        '--silent',
      ],
      logFile: join(options.dataDir, 'azurite.log'),
      cwd: options.dataDir,
    });
    const connectionString = azuriteConnectionString(ports);
    try {
      await waitUntilReady(child, () => probeAzurite(connectionString), {
        timeoutMs: options.readyTimeoutMs ?? 30_000,
      });
      return { process: child, ports, connectionString, stop: () => child.stop() };
    } catch (error: unknown) {
      lastError = error;
      await child.stop();
    }
  }
  throw lastError;
}

/** Ready means all three services answer an authenticated request, not merely that a port is open. */
async function probeAzurite(connectionString: string): Promise<void> {
  const retryOptions = { maxTries: 1 };
  await Promise.all([
    BlobServiceClient.fromConnectionString(connectionString, { retryOptions }).getProperties(),
    QueueServiceClient.fromConnectionString(connectionString, { retryOptions }).getProperties(),
    TableServiceClient.fromConnectionString(connectionString, {
      allowInsecureConnection: true,
      retryOptions: { maxRetries: 0 },
    }).getProperties(),
  ]);
}
