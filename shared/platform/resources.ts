/**
 * Every storage resource the app uses, declared once. `ensureResources()` creates them at startup and locally;
 * the Pulumi program declares the same list, so both agree on names and partition keys.
 */

/** Blob containers in `DataStorage`. */
export const BLOB_CONTAINERS = {
  /** Uploaded labelled declaration files; an upload here starts ingestion. */
  incoming: 'incoming',
  /** Rejected rows and files, kept with the reason. */
  quarantine: 'quarantine',
  /** Immutable, versioned datasets produced by ingestion. */
  datasets: 'datasets',
  /** ONNX models and their metadata. */
  models: 'models',
  /** Evaluation, experiment and drift reports. */
  reports: 'reports',
  /** Audit records too large for a Cosmos item. */
  auditSpill: 'audit-spill',
} as const;

export type BlobContainerName = (typeof BLOB_CONTAINERS)[keyof typeof BLOB_CONTAINERS];

export interface CosmosContainerSpec {
  readonly id: string;
  /** A single-path partition key, e.g. `/id`. */
  readonly partitionKey: `/${string}`;
  /** Why the key was chosen: it decides which queries stay in one partition. */
  readonly why: string;
}

function cosmosContainer(id: string, partitionKey: `/${string}`, why: string): CosmosContainerSpec {
  return { id, partitionKey, why };
}

/** Cosmos containers in the `COSMOS_DATABASE` database. */
export const COSMOS_CONTAINERS = {
  predictions: cosmosContainer(
    'predictions',
    '/id',
    'point reads by prediction id for audit and feedback joins',
  ),
  models: cosmosContainer('models', '/id', 'one item per model version, read by id'),
  registryLog: cosmosContainer('registry-log', '/modelVersion', "a model version's history is one partition"),
  experiments: cosmosContainer('experiments', '/id', 'one item per experiment, read by id'),
  feedback: cosmosContainer(
    'feedback',
    '/predictionId',
    'feedback is looked up by the prediction it answers',
  ),
  datasets: cosmosContainer('datasets', '/id', 'one item per dataset version, read by id'),
  pipelines: cosmosContainer('pipelines', '/id', 'one item per pipeline run, read by id'),
  alerts: cosmosContainer('alerts', '/id', 'one item per alert, read by id'),
} as const;

export type CosmosContainerKey = keyof typeof COSMOS_CONTAINERS;

/** The whole declaration, in creation order. */
export const RESOURCES: {
  readonly blobContainers: readonly BlobContainerName[];
  readonly cosmosContainers: readonly CosmosContainerSpec[];
} = Object.freeze({
  blobContainers: Object.freeze(Object.values(BLOB_CONTAINERS)),
  cosmosContainers: Object.freeze(Object.values(COSMOS_CONTAINERS)),
});

/**
 * Service Bus entities: the ground-truth feedback queue and the topic of model life-cycle events (with the app's
 * own subscription, the audit trail's and notifications' reader). Pulumi declares them in Azure; the local peer
 * is started with the same list.
 */
export const SERVICE_BUS_ENTITIES = Object.freeze({
  feedbackQueue: 'feedback',
  lifecycleTopic: 'lifecycle-events',
  lifecycleSubscription: 'hsmlops-app',
} as const);
