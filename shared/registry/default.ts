/** The registry built on the process-wide clients, for function handlers. */
import { getPlatformClients, type PlatformClients } from '../platform/clients';
import { BLOB_CONTAINERS, COSMOS_CONTAINERS } from '../platform/resources';
import { ModelRegistry } from './registry';

export function registryFor(clients: PlatformClients): ModelRegistry {
  return new ModelRegistry({
    models: clients.database.container(COSMOS_CONTAINERS.models.id),
    log: clients.database.container(COSMOS_CONTAINERS.registryLog.id),
    packages: clients.dataBlobs.getContainerClient(BLOB_CONTAINERS.models),
  });
}

let shared: { clients: PlatformClients; registry: ModelRegistry } | undefined;

/** One registry per set of platform clients (tests swap the clients, and the registry follows). */
export function getModelRegistry(): ModelRegistry {
  const clients = getPlatformClients();
  if (shared?.clients !== clients) shared = { clients, registry: registryFor(clients) };
  return shared.registry;
}
