import * as resources from '@pulumi/azure-native/resources';
import * as pulumi from '@pulumi/pulumi';
import { functionAppSettings } from './appSettings';
import { Alerts } from './components/alerts';
import { BlobEvents } from './components/blobEvents';
import { Cosmos } from './components/cosmos';
import { DeploymentPackage, FunctionHostWarmUp, locatePackage } from './components/deploymentPackage';
import { FunctionAccess } from './components/functionAccess';
import { FunctionApp } from './components/functionApp';
import { Messaging } from './components/messaging';
import { Monitoring } from './components/monitoring';
import { Storage } from './components/storage';
import { BLOB_TRIGGERS } from '../shared/platform/blob-triggers';
import type { InfraConfig } from './config';
import type { ResourceNames } from './naming';
import {
  apiRoutePrefix,
  cosmosContainers,
  cosmosDatabaseName,
  dataBlobContainers,
  deploymentBlobContainer,
  expiringCosmosContainer,
  serviceBusEntities,
} from './settings';

const secondsPerDay = 86_400;

export interface PlatformArgs {
  /** Validated stack configuration. */
  readonly config: InfraConfig;
  /** Physical names of every resource (see `resourceNames`). */
  readonly names: ResourceNames;
  /** Subscription the stack deploys to; role definition ids are subscription-scoped. */
  readonly subscriptionId: pulumi.Input<string>;
  /** Object id of whoever runs `pulumi up`; it is granted the upload of the deployment package. */
  readonly deployerPrincipalId: pulumi.Input<string>;
}

/** The whole HS-code MLOps platform in one resource group. */
export class Platform extends pulumi.ComponentResource {
  public readonly resourceGroupName: pulumi.Output<string>;
  public readonly functionAppName: pulumi.Output<string>;
  public readonly functionAppUrl: pulumi.Output<string>;
  /** `https://<app host>/api`: what API callers prefix every route with. */
  public readonly apiBaseUrl: pulumi.Output<string>;
  public readonly hostStorageAccountName: pulumi.Output<string>;
  public readonly dataStorageAccountName: pulumi.Output<string>;
  public readonly cosmosEndpoint: pulumi.Output<string>;
  public readonly serviceBusNamespace: pulumi.Output<string>;

  constructor(name: string, args: PlatformArgs, opts?: pulumi.ComponentResourceOptions) {
    super('hsmlops:infra:Platform', name, {}, opts);
    const { config, names } = args;
    // Why: first, so a missing zip stops the program before any Azure resource is declared.
    const packageFile = locatePackage(config.deploymentPackagePath);

    // Why: one resource group per stack, so a stack's lifetime and access are managed as a unit.
    const resourceGroup = new resources.ResourceGroup(
      `${name}-rg`,
      { resourceGroupName: names.resourceGroup, location: config.location },
      { parent: this },
    );
    const placement = { resourceGroupName: resourceGroup.name, location: resourceGroup.location };

    const monitoring = new Monitoring(
      `${name}-monitoring`,
      {
        ...placement,
        workspaceName: names.logAnalyticsWorkspace,
        appInsightsName: names.appInsights,
        retentionInDays: config.logRetentionDays,
      },
      { parent: this },
    );

    const storage = new Storage(
      `${name}-storage`,
      {
        ...placement,
        hostAccountName: names.hostStorageAccount,
        dataAccountName: names.dataStorageAccount,
        dataContainers: Object.values(dataBlobContainers),
        deploymentContainer: deploymentBlobContainer,
      },
      { parent: this },
    );

    // Why: the app's code; it depends on the Storage component so the deployment container exists first.
    const deploymentPackage = new DeploymentPackage(
      `${name}-package`,
      {
        accountName: storage.hostAccountName,
        accountId: storage.hostAccount.id,
        blobEndpoint: storage.hostAccount.primaryEndpoints.blob,
        containerName: deploymentBlobContainer,
        packageFile,
        deployerPrincipalId: args.deployerPrincipalId,
        deployerPrincipalType: config.deployerPrincipalType,
        subscriptionId: args.subscriptionId,
      },
      { parent: this, dependsOn: [storage] },
    );

    const cosmos = new Cosmos(
      `${name}-cosmos`,
      {
        ...placement,
        accountName: names.cosmosAccount,
        databaseName: cosmosDatabaseName,
        containers: cosmosContainers.map((container) =>
          container.name === expiringCosmosContainer
            ? { ...container, defaultTtlSeconds: config.predictionRetentionDays * secondsPerDay }
            : container,
        ),
      },
      { parent: this },
    );

    const messaging = new Messaging(
      `${name}-messaging`,
      {
        ...placement,
        namespaceName: names.serviceBusNamespace,
        feedbackQueueName: serviceBusEntities.feedbackQueue,
        lifecycleTopicName: serviceBusEntities.lifecycleTopic,
        lifecycleSubscriptionName: serviceBusEntities.lifecycleSubscription,
      },
      { parent: this },
    );

    const functionApp = new FunctionApp(
      `${name}-functions`,
      {
        ...placement,
        planName: names.appServicePlan,
        appName: names.functionApp,
        deploymentContainerUrl: storage.deploymentContainerUrl,
        instanceMemoryMB: config.instanceMemoryMB,
        maximumInstanceCount: config.maximumInstanceCount,
        appSettings: functionAppSettings(
          {
            hostStorageAccountName: storage.hostAccountName,
            dataStorageAccountName: storage.dataAccountName,
            dataBlobServiceUri: storage.dataBlobServiceUri,
            dataQueueServiceUri: storage.dataQueueServiceUri,
            cosmosEndpoint: cosmos.endpoint,
            cosmosDatabaseName,
            serviceBusFullyQualifiedNamespace: messaging.fullyQualifiedNamespace,
            durableTaskHub: names.durableTaskHub,
            appInsightsConnectionString: monitoring.appInsightsConnectionString,
          },
          {
            retrainSchedule: config.retrainSchedule,
            deploymentPackageSha256: deploymentPackage.uploadedSha256,
          },
        ),
      },
      // Why: a Flex app started before its package exists has nothing to load until the next restart.
      { parent: this, dependsOn: [deploymentPackage] },
    );

    const functionAccess = new FunctionAccess(
      `${name}-access`,
      {
        principalId: functionApp.principalId,
        subscriptionId: args.subscriptionId,
        hostStorageAccountId: storage.hostAccount.id,
        dataStorageAccountId: storage.dataAccount.id,
        feedbackQueueId: messaging.feedbackQueueId,
        lifecycleTopicId: messaging.lifecycleTopicId,
        appInsightsId: monitoring.appInsightsId,
        cosmos: {
          resourceGroupName: resourceGroup.name,
          accountName: cosmos.accountName,
          accountId: cosmos.accountId,
        },
      },
      { parent: this },
    );

    // Why: the host starts only when called, and creates its blobs_extension key only then; waiting here for
    // /api/health makes the first `pulumi up` read a key that exists, and shows a new package is being served.
    const hostWarmUp = new FunctionHostWarmUp(
      `${name}-warm-up`,
      {
        healthUrl: pulumi.interpolate`${functionApp.url}/${apiRoutePrefix}/health`,
        functionAppId: functionApp.app.id,
        packageSha256: deploymentPackage.uploadedSha256,
        timeoutSeconds: 600,
        intervalSeconds: 10,
      },
      { parent: this, dependsOn: [functionApp, deploymentPackage, functionAccess] },
    );

    // Why: on Flex Consumption the blob triggers (BLOB_TRIGGER_SOURCE=EventGrid) fire only through these
    // subscriptions. They read the host's blobs_extension key, so they wait until the code is deployed, the
    // host can reach its storage, where it keeps its keys, and it has started (the warm-up).
    new BlobEvents(
      `${name}-blob-events`,
      {
        ...placement,
        systemTopicName: pulumi.interpolate`${storage.dataAccountName}-events`,
        dataStorageAccountId: storage.dataAccount.id,
        functionAppName: functionApp.appName,
        functionAppHostName: functionApp.app.defaultHostName,
        triggers: Object.values(BLOB_TRIGGERS),
        hostReadyAfter: [functionApp, deploymentPackage, functionAccess, hostWarmUp],
        subscriptionId: args.subscriptionId,
        deadLetter: {
          resourceGroupName: resourceGroup.name,
          accountName: storage.hostAccountName,
          accountId: storage.hostAccount.id,
        },
      },
      { parent: this },
    );

    new Alerts(
      `${name}-alerts`,
      {
        ...placement,
        appInsightsId: monitoring.appInsightsId,
        apiRoutePrefix,
        actionGroupName: names.alertActionGroup,
        actionGroupShortName: config.namePrefix,
        serverErrorRuleName: names.serverErrorAlert,
        latencyRuleName: names.latencyAlert,
        email: config.alertEmail,
        thresholds: {
          serverErrorPercent: config.alertServerErrorPercent,
          p95LatencyMs: config.alertP95LatencyMs,
          windowMinutes: config.alertWindowMinutes,
          minimumRequests: config.alertMinimumRequests,
        },
      },
      { parent: this },
    );

    this.resourceGroupName = resourceGroup.name;
    this.functionAppName = functionApp.appName;
    this.functionAppUrl = functionApp.url;
    this.apiBaseUrl = pulumi.interpolate`${functionApp.url}/${apiRoutePrefix}`;
    this.hostStorageAccountName = storage.hostAccountName;
    this.dataStorageAccountName = storage.dataAccountName;
    this.cosmosEndpoint = cosmos.endpoint;
    this.serviceBusNamespace = messaging.fullyQualifiedNamespace;
    this.registerOutputs({
      resourceGroupName: this.resourceGroupName,
      functionAppName: this.functionAppName,
      functionAppUrl: this.functionAppUrl,
      apiBaseUrl: this.apiBaseUrl,
      hostStorageAccountName: this.hostStorageAccountName,
      dataStorageAccountName: this.dataStorageAccountName,
      cosmosEndpoint: this.cosmosEndpoint,
      serviceBusNamespace: this.serviceBusNamespace,
    });
  }
}
