import * as resources from '@pulumi/azure-native/resources';
import * as pulumi from '@pulumi/pulumi';
import { identityAppSettings } from './appSettings';
import { Cosmos } from './components/cosmos';
import { FunctionAccess } from './components/functionAccess';
import { FunctionApp } from './components/functionApp';
import { Messaging } from './components/messaging';
import { Monitoring } from './components/monitoring';
import { Storage } from './components/storage';
import type { InfraConfig } from './config';
import type { ResourceNames } from './naming';
import {
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
}

/** The whole HS-code MLOps platform in one resource group. */
export class Platform extends pulumi.ComponentResource {
  public readonly resourceGroupName: pulumi.Output<string>;
  public readonly functionAppName: pulumi.Output<string>;
  public readonly functionAppUrl: pulumi.Output<string>;
  public readonly hostStorageAccountName: pulumi.Output<string>;
  public readonly dataStorageAccountName: pulumi.Output<string>;
  public readonly cosmosEndpoint: pulumi.Output<string>;
  public readonly serviceBusNamespace: pulumi.Output<string>;

  constructor(name: string, args: PlatformArgs, opts?: pulumi.ComponentResourceOptions) {
    super('hsmlops:infra:Platform', name, {}, opts);
    const { config, names } = args;

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
        appSettings: identityAppSettings({
          hostStorageAccountName: storage.hostAccountName,
          dataStorageAccountName: storage.dataAccountName,
          dataBlobServiceUri: storage.dataBlobServiceUri,
          dataQueueServiceUri: storage.dataQueueServiceUri,
          cosmosEndpoint: cosmos.endpoint,
          cosmosDatabaseName,
          serviceBusFullyQualifiedNamespace: messaging.fullyQualifiedNamespace,
          durableTaskHub: names.durableTaskHub,
          appInsightsConnectionString: monitoring.appInsightsConnectionString,
        }),
      },
      { parent: this },
    );

    new FunctionAccess(
      `${name}-access`,
      {
        principalId: functionApp.principalId,
        subscriptionId: args.subscriptionId,
        storageAccountIds: { host: storage.hostAccount.id, data: storage.dataAccount.id },
        serviceBusNamespaceId: messaging.namespaceId,
        appInsightsId: monitoring.appInsightsId,
        cosmos: {
          resourceGroupName: resourceGroup.name,
          accountName: cosmos.accountName,
          accountId: cosmos.accountId,
        },
      },
      { parent: this },
    );

    this.resourceGroupName = resourceGroup.name;
    this.functionAppName = functionApp.appName;
    this.functionAppUrl = functionApp.url;
    this.hostStorageAccountName = storage.hostAccountName;
    this.dataStorageAccountName = storage.dataAccountName;
    this.cosmosEndpoint = cosmos.endpoint;
    this.serviceBusNamespace = messaging.fullyQualifiedNamespace;
    this.registerOutputs({
      resourceGroupName: this.resourceGroupName,
      functionAppName: this.functionAppName,
      functionAppUrl: this.functionAppUrl,
      hostStorageAccountName: this.hostStorageAccountName,
      dataStorageAccountName: this.dataStorageAccountName,
      cosmosEndpoint: this.cosmosEndpoint,
      serviceBusNamespace: this.serviceBusNamespace,
    });
  }
}
