/**
 * Names the infrastructure and the app must agree on: connection prefixes, app setting names, container,
 * database and entity names. The app owns them (`shared/config.ts` SETTING, `shared/platform/resources.ts`);
 * this module only re-exports them in the shape the Pulumi program uses, plus the infra-only names.
 */
import { RETRAIN_SCHEDULE_SETTING, SETTING, type BlobTriggerSource } from '../shared/config';
import {
  BLOB_CONTAINERS,
  COSMOS_CONTAINERS,
  SERVICE_BUS_ENTITIES,
  type CosmosContainerKey,
} from '../shared/platform/resources';

/**
 * Connection prefixes as the Functions host and the app see them. With identity-based connections the host
 * reads `<prefix>__accountName` / `__fullyQualifiedNamespace` / `__accountEndpoint` instead of a secret.
 */
export const connectionNames = {
  hostStorage: SETTING.hostStorage,
  dataStorage: SETTING.dataStorage,
  cosmos: SETTING.cosmos,
  serviceBus: SETTING.serviceBus,
} as const;

/** The app's retraining timer schedule; the stack sets it so the deployed value is visible and reviewed. */
export const retrainScheduleSetting = RETRAIN_SCHEDULE_SETTING;

/** Every app setting the Function App receives; nothing else is set, and none of them is a secret. */
export const appSettingNames = {
  hostStorageAccountName: `${connectionNames.hostStorage}__accountName`,
  dataStorageAccountName: `${connectionNames.dataStorage}__accountName`,
  dataStorageBlobServiceUri: `${connectionNames.dataStorage}__blobServiceUri`,
  dataStorageQueueServiceUri: `${connectionNames.dataStorage}__queueServiceUri`,
  cosmosAccountEndpoint: `${connectionNames.cosmos}__accountEndpoint`,
  serviceBusNamespace: `${connectionNames.serviceBus}__fullyQualifiedNamespace`,
  cosmosDatabase: SETTING.cosmosDatabase,
  durableTaskHub: SETTING.durableTaskHub,
  environment: SETTING.environment,
  appInsightsConnectionString: 'APPLICATIONINSIGHTS_CONNECTION_STRING',
  appInsightsAuthentication: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
  retrainSchedule: retrainScheduleSetting,
  blobTriggerSource: SETTING.blobTriggerSource,
  deploymentPackageSha256: 'DEPLOYMENT_PACKAGE_SHA256',
} as const;

/** host.json `extensions.http.routePrefix`: every HTTP function answers under `/<prefix>/`. */
export const apiRoutePrefix = 'api';

/** `BLOB_TRIGGER_SOURCE` in Azure: Flex Consumption runs blob triggers only with the Event Grid source, whose
 * subscriptions the `BlobEvents` component creates. */
export const azureBlobTriggerSource: BlobTriggerSource = 'EventGrid';

/** `HS_ENV` value in Azure; the app picks identity-based clients for it. */
export const azureEnvironmentName = 'azure';

/** Blob containers of the data storage account, one per stage of the data flow (the app's own list). */
export const dataBlobContainers = BLOB_CONTAINERS;

/** Container in the host storage account that holds the Flex Consumption deployment package. */
export const deploymentBlobContainer = 'deployment-package';

export const cosmosDatabaseName = 'hsmlops';

export interface CosmosContainerSpec {
  readonly name: string;
  readonly partitionKeyPath: string;
  /**
   * Item properties the app's queries filter on (dotted, e.g. `retraining.startedAt`): the only ones indexed.
   * Everything else (prediction explanations, code lists, texts) is left out of the index, so writes pay for
   * the few paths that queries use. Point reads by id and partition key need no index.
   */
  readonly indexedProperties: readonly string[];
}

/**
 * What each container's queries in shared/ filter on. A `Record` over the app's container keys, so a container
 * added to the app without an entry here fails to compile. None of the queries sorts (no ORDER BY), so no
 * composite index is needed.
 */
export const cosmosQueriedProperties: Readonly<Record<CosmosContainerKey, readonly string[]>> = {
  // monitoring window scan and experiment request counts: `createdAt` ranges.
  predictions: ['createdAt'],
  // registry listing: `kind = 'model'`.
  models: ['kind'],
  // a version's history, and the alias-move idempotency check.
  registryLog: ['modelVersion', 'alias', 'aliasRevision'],
  // running experiments (serving and decisions), an experiment's arm failures.
  experiments: ['kind', 'status', 'experimentId'],
  // feedback on predictions served since an experiment started.
  feedback: ['servedAt'],
  // listed whole; read by id otherwise.
  datasets: [],
  // pipeline listing and a pipeline's candidate progress.
  pipelines: ['kind', 'pipelineId'],
  // recent alerts and the retraining cooldown.
  alerts: ['createdAt', 'retraining.action', 'retraining.startedAt'],
};

/** Cosmos DB containers and their partition keys, taken from the app's declaration so the two cannot drift. */
export const cosmosContainers: readonly CosmosContainerSpec[] = (
  Object.keys(COSMOS_CONTAINERS) as CosmosContainerKey[]
).map((key) => ({
  name: COSMOS_CONTAINERS[key].id,
  partitionKeyPath: COSMOS_CONTAINERS[key].partitionKey,
  indexedProperties: cosmosQueriedProperties[key],
}));

/** The container whose items expire (`predictionRetentionDays`); every other container keeps its items. */
export const expiringCosmosContainer = COSMOS_CONTAINERS.predictions.id;

/** Service Bus entities: the app's own names (`shared/platform/resources.ts`). */
export const serviceBusEntities = SERVICE_BUS_ENTITIES;
