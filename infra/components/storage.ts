import * as storage from '@pulumi/azure-native/storage';
import * as pulumi from '@pulumi/pulumi';

export interface StorageArgs {
  readonly resourceGroupName: pulumi.Input<string>;
  readonly location: pulumi.Input<string>;
  /** Account for the Functions host: durable task hub queues and tables, trigger receipts, deployment package. */
  readonly hostAccountName: string;
  /** Account for the product's data: the blob containers of the data flow. */
  readonly dataAccountName: string;
  /** Blob containers created in the data account. */
  readonly dataContainers: readonly string[];
  /** Blob container in the host account that Flex Consumption deploys the app package from. */
  readonly deploymentContainer: string;
  /** Days deleted data blobs and containers stay recoverable. Default 30. */
  readonly softDeleteDays?: number;
}

/**
 * Two storage accounts rather than one: the host account churns (task-hub queues, history tables, leases)
 * while the data account holds evidence an auditor relies on (datasets, models, audit spill). Keeping them
 * apart lets the data account carry versioning and soft delete without paying for them on every durable write,
 * and resetting a task hub can never touch data.
 */
export class Storage extends pulumi.ComponentResource {
  public readonly hostAccount: storage.StorageAccount;
  public readonly dataAccount: storage.StorageAccount;
  public readonly hostAccountName: pulumi.Output<string>;
  public readonly dataAccountName: pulumi.Output<string>;
  public readonly dataBlobServiceUri: pulumi.Output<string>;
  public readonly dataQueueServiceUri: pulumi.Output<string>;
  /** URL of the deployment container, the form Flex Consumption expects. */
  public readonly deploymentContainerUrl: pulumi.Output<string>;

  constructor(name: string, args: StorageArgs, opts?: pulumi.ComponentResourceOptions) {
    super('hsmlops:infra:Storage', name, {}, opts);
    const softDeleteDays = args.softDeleteDays ?? 30;

    // Why: AzureWebJobsStorage for the host (durable task hub, blob-trigger receipts) and the deployment package.
    this.hostAccount = this.secureAccount(`${name}-host`, args.hostAccountName, args);

    // Why: the data flow's blobs (incoming to reports) live apart from host churn, with their own retention.
    this.dataAccount = this.secureAccount(`${name}-data`, args.dataAccountName, args);

    // Why: versions and soft delete make "immutable dataset version" recoverable after an overwrite or delete.
    new storage.BlobServiceProperties(
      `${name}-data-blob-service`,
      {
        accountName: this.dataAccount.name,
        resourceGroupName: args.resourceGroupName,
        blobServicesName: 'default',
        isVersioningEnabled: true,
        deleteRetentionPolicy: { enabled: true, days: softDeleteDays },
        containerDeleteRetentionPolicy: { enabled: true, days: softDeleteDays },
      },
      { parent: this },
    );

    for (const containerName of args.dataContainers) {
      // Why: each stage of the data flow gets its own container, so roles and lifecycle rules can target it.
      new storage.BlobContainer(
        `${name}-data-${containerName}`,
        {
          accountName: this.dataAccount.name,
          resourceGroupName: args.resourceGroupName,
          containerName,
          publicAccess: storage.PublicAccess.None,
        },
        { parent: this },
      );
    }

    // Why: Flex Consumption runs the app from a package blob in a container it reads with the app's identity.
    new storage.BlobContainer(
      `${name}-host-${args.deploymentContainer}`,
      {
        accountName: this.hostAccount.name,
        resourceGroupName: args.resourceGroupName,
        containerName: args.deploymentContainer,
        publicAccess: storage.PublicAccess.None,
      },
      { parent: this },
    );

    this.hostAccountName = this.hostAccount.name;
    this.dataAccountName = this.dataAccount.name;
    this.dataBlobServiceUri = this.dataAccount.primaryEndpoints.blob;
    this.dataQueueServiceUri = this.dataAccount.primaryEndpoints.queue;
    this.deploymentContainerUrl = pulumi.interpolate`${this.hostAccount.primaryEndpoints.blob}${args.deploymentContainer}`;
    this.registerOutputs({
      hostAccountName: this.hostAccountName,
      dataAccountName: this.dataAccountName,
      deploymentContainerUrl: this.deploymentContainerUrl,
    });
  }

  /** Entra-only access: shared keys (and so SAS and connection strings) are refused by the account itself. */
  private secureAccount(
    resourceName: string,
    accountName: string,
    args: StorageArgs,
  ): storage.StorageAccount {
    return new storage.StorageAccount(
      resourceName,
      {
        accountName,
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        kind: storage.Kind.StorageV2,
        sku: { name: storage.SkuName.Standard_LRS },
        accessTier: storage.AccessTier.Hot,
        minimumTlsVersion: storage.MinimumTlsVersion.TLS1_2,
        enableHttpsTrafficOnly: true,
        allowBlobPublicAccess: false,
        allowSharedKeyAccess: false,
        defaultToOAuthAuthentication: true,
        allowCrossTenantReplication: false,
      },
      { parent: this },
    );
  }
}
