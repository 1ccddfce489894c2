/**
 * Azure SDK clients built from the configuration: created once per process and reused, because each one holds
 * connection pools, token caches and (for Cosmos) a background endpoint-refresh timer.
 */
import { Agent } from 'node:https';
import { CosmosClient, type Database } from '@azure/cosmos';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { ServiceBusClient } from '@azure/service-bus';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { getConfig, type AppConfig, type CosmosConnection, type StorageConnection } from '../config';

/** The clients one app instance talks through. */
export interface PlatformClients {
  /** `DataStorage` blobs: incoming/, datasets/, models/, ... */
  readonly dataBlobs: BlobServiceClient;
  /** `DataStorage` queues. Throws when identity-based access names no queue endpoint. */
  dataQueues(): QueueServiceClient;
  /** `AzureWebJobsStorage` blobs: host storage (durable history, receipts). */
  readonly hostBlobs: BlobServiceClient;
  readonly cosmos: CosmosClient;
  /** The `COSMOS_DATABASE` database. */
  readonly database: Database;
  /** Created on first use; throws when `ServiceBus` is not configured. */
  serviceBus(): ServiceBusClient;
  /** Closes the Service Bus connection and stops the Cosmos endpoint-refresh timer. */
  dispose(): Promise<void>;
}

/** One credential per managed identity: DefaultAzureCredential caches tokens, so sharing it saves round trips. */
function credentialCache(): (clientId: string | undefined) => TokenCredential {
  const credentials = new Map<string, TokenCredential>();
  return (clientId) => {
    const cacheKey = clientId ?? '';
    let credential = credentials.get(cacheKey);
    if (credential === undefined) {
      credential = new DefaultAzureCredential(
        clientId === undefined ? {} : { managedIdentityClientId: clientId },
      );
      credentials.set(cacheKey, credential);
    }
    return credential;
  };
}

export function createBlobServiceClient(
  connection: StorageConnection,
  credentialFor: (clientId: string | undefined) => TokenCredential,
): BlobServiceClient {
  return connection.kind === 'connectionString'
    ? BlobServiceClient.fromConnectionString(connection.connectionString)
    : new BlobServiceClient(connection.blobServiceUri, credentialFor(connection.clientId));
}

export function createQueueServiceClient(
  connection: StorageConnection,
  credentialFor: (clientId: string | undefined) => TokenCredential,
  settingName: string,
): QueueServiceClient {
  if (connection.kind === 'connectionString')
    return QueueServiceClient.fromConnectionString(connection.connectionString);
  if (connection.queueServiceUri === undefined) {
    throw new Error(
      `${settingName}: no queue endpoint; set ${settingName}__accountName or ${settingName}__queueServiceUri`,
    );
  }
  return new QueueServiceClient(connection.queueServiceUri, credentialFor(connection.clientId));
}

export function createCosmosClient(
  connection: CosmosConnection,
  credentialFor: (clientId: string | undefined) => TokenCredential,
): CosmosClient {
  // The local emulator serves a self-signed certificate; config only allows this for loopback endpoints.
  const agent = connection.allowSelfSignedCertificate
    ? new Agent({ rejectUnauthorized: false, keepAlive: true })
    : undefined;
  return connection.kind === 'key'
    ? new CosmosClient({ endpoint: connection.endpoint, key: connection.key, agent })
    : new CosmosClient({
        endpoint: connection.endpoint,
        aadCredentials: credentialFor(connection.clientId),
        agent,
      });
}

/** Builds a fresh set of clients; most code wants the shared `getPlatformClients()` instead. */
export function createPlatformClients(config: AppConfig): PlatformClients {
  const credentialFor = credentialCache();
  const cosmos = createCosmosClient(config.cosmos, credentialFor);
  let queues: QueueServiceClient | undefined;
  let serviceBus: ServiceBusClient | undefined;
  return {
    dataBlobs: createBlobServiceClient(config.dataStorage, credentialFor),
    hostBlobs: createBlobServiceClient(config.hostStorage, credentialFor),
    dataQueues: () => {
      queues ??= createQueueServiceClient(config.dataStorage, credentialFor, 'DataStorage');
      return queues;
    },
    cosmos,
    database: cosmos.database(config.cosmosDatabase),
    serviceBus: () => {
      const connection = config.serviceBus;
      if (connection === undefined) {
        throw new Error('ServiceBus: not configured; set ServiceBus or ServiceBus__fullyQualifiedNamespace');
      }
      serviceBus ??=
        connection.kind === 'connectionString'
          ? new ServiceBusClient(connection.connectionString)
          : new ServiceBusClient(connection.fullyQualifiedNamespace, credentialFor(connection.clientId));
      return serviceBus;
    },
    dispose: async () => {
      cosmos.dispose();
      const closing = serviceBus;
      serviceBus = undefined;
      if (closing !== undefined) await closing.close();
    },
  };
}

let shared: PlatformClients | undefined;

/** The process-wide clients, built from `getConfig()` on first use. */
export function getPlatformClients(): PlatformClients {
  shared ??= createPlatformClients(getConfig());
  return shared;
}

/** Disposes and forgets the process-wide clients; for tests that point `process.env` at a new stack. */
export async function resetPlatformClientsForTests(): Promise<void> {
  const previous = shared;
  shared = undefined;
  if (previous !== undefined) await previous.dispose();
}

/** Closes the instance-wide clients (Service Bus connections, Cosmos agents), if they were built. */
export async function disposePlatformClients(): Promise<void> {
  const previous = shared;
  shared = undefined;
  if (previous !== undefined) await previous.dispose();
}
