/**
 * Creates the declared blob and Cosmos containers when missing. Runs at startup in Azure (where Pulumi has
 * usually created them already, so each call is a read) and locally against the emulators.
 */
import type { BlobServiceClient } from '@azure/storage-blob';
import type { Database } from '@azure/cosmos';
import { getPlatformClients } from './clients';
import { RESOURCES, type CosmosContainerSpec } from './resources';

export interface EnsuredResource {
  readonly kind: 'blobContainer' | 'cosmosDatabase' | 'cosmosContainer';
  readonly name: string;
  /** False when it already existed. */
  readonly created: boolean;
}

export interface EnsureResourcesTargets {
  readonly blobs: BlobServiceClient;
  readonly database: Database;
}

/**
 * Idempotent: existing resources are left untouched. An existing Cosmos container whose partition key differs
 * from the declaration is an error, since every query and point read would silently miss.
 */
export async function ensureResources(
  targets: EnsureResourcesTargets = defaultTargets(),
  resources: typeof RESOURCES = RESOURCES,
): Promise<EnsuredResource[]> {
  const blobResults = Promise.all(
    resources.blobContainers.map(async (name): Promise<EnsuredResource> => {
      const response = await targets.blobs.getContainerClient(name).createIfNotExists();
      return { kind: 'blobContainer', name, created: response.succeeded };
    }),
  );
  const cosmosResults = ensureCosmos(targets.database, resources.cosmosContainers);
  const [blobs, cosmos] = await Promise.all([blobResults, cosmosResults]);
  return [...blobs, ...cosmos];
}

function defaultTargets(): EnsureResourcesTargets {
  const clients = getPlatformClients();
  return { blobs: clients.dataBlobs, database: clients.database };
}

async function ensureCosmos(
  database: Database,
  containers: readonly CosmosContainerSpec[],
): Promise<EnsuredResource[]> {
  const databaseResponse = await retryOnConflict(() =>
    database.client.databases.createIfNotExists({ id: database.id }),
  );
  const results: EnsuredResource[] = [
    { kind: 'cosmosDatabase', name: database.id, created: databaseResponse.statusCode === 201 },
  ];
  const ensured = await Promise.all(
    containers.map(async (spec): Promise<EnsuredResource> => {
      const response = await retryOnConflict(() =>
        database.containers.createIfNotExists({ id: spec.id, partitionKey: { paths: [spec.partitionKey] } }),
      );
      const actualPaths = response.resource?.partitionKey?.paths ?? [];
      if (actualPaths.length !== 1 || actualPaths[0] !== spec.partitionKey) {
        throw new Error(
          `Cosmos container '${spec.id}' exists with partition key ${JSON.stringify(actualPaths)}, ` +
            `but the app declares '${spec.partitionKey}'; recreate it or migrate the data`,
        );
      }
      return { kind: 'cosmosContainer', name: spec.id, created: response.statusCode === 201 };
    }),
  );
  return results.concat(ensured);
}

/**
 * The SDK's createIfNotExists reads, then creates on 404; when several instances start together one of them
 * loses the create with 409 Conflict. The resource exists by then, so one more call reads it.
 */
async function retryOnConflict<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error: unknown) {
    if (isConflict(error)) return operation();
    throw error;
  }
}

function isConflict(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === 409;
}
