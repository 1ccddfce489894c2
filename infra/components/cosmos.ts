import * as cosmosdb from '@pulumi/azure-native/cosmosdb';
import * as pulumi from '@pulumi/pulumi';
import type { CosmosContainerSpec } from '../settings';

export interface CosmosContainerArgs extends CosmosContainerSpec {
  /** Cosmos `defaultTtl` in seconds; -1 turns TTL on with per-item expiry only; unset leaves TTL off. */
  readonly defaultTtlSeconds?: number;
}

/** A property name, or a dotted path of them, as Cosmos SQL writes it after the item alias. */
const propertyPathPattern = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

export interface CosmosIndexingPolicy {
  readonly indexingMode: 'consistent';
  readonly automatic: true;
  readonly includedPaths: { path: string }[];
  readonly excludedPaths: { path: string }[];
}

/**
 * Index only the queried properties: `/*` is excluded, each property is included as a scalar path
 * (`/retraining/startedAt/?`, which serves equality and range filters). `_etag` is listed because Azure adds it
 * to every policy, and leaving it out would show as a diff on each `pulumi up`.
 */
export function indexingPolicyFor(indexedProperties: readonly string[]): CosmosIndexingPolicy {
  const unique = [...new Set(indexedProperties)];
  for (const property of unique) {
    if (!propertyPathPattern.test(property)) {
      throw new Error(`'${property}' is not a Cosmos property path (letters, digits, _ and dots)`);
    }
  }
  return {
    indexingMode: cosmosdb.IndexingMode.Consistent,
    automatic: true,
    includedPaths: unique.map((property) => ({ path: `/${property.split('.').join('/')}/?` })),
    excludedPaths: [{ path: '/*' }, { path: '/"_etag"/?' }],
  };
}

export interface CosmosArgs {
  readonly resourceGroupName: pulumi.Input<string>;
  readonly location: pulumi.Input<string>;
  readonly accountName: string;
  readonly databaseName: string;
  readonly containers: readonly CosmosContainerArgs[];
}

/**
 * Cosmos DB for NoSQL in serverless capacity mode: traffic is bursty (batch scoring, retraining, a few audit
 * queries) and often idle, so paying per request beats a provisioned or autoscale floor that bills every hour;
 * a serverless account's single region and 1 TB per container are far above this workload.
 */
export class Cosmos extends pulumi.ComponentResource {
  public readonly account: cosmosdb.DatabaseAccount;
  public readonly database: cosmosdb.SqlResourceSqlDatabase;
  public readonly accountName: pulumi.Output<string>;
  public readonly accountId: pulumi.Output<string>;
  /** `https://<account>.documents.azure.com:443/`, the value of `CosmosDb__accountEndpoint`. */
  public readonly endpoint: pulumi.Output<string>;

  constructor(name: string, args: CosmosArgs, opts?: pulumi.ComponentResourceOptions) {
    super('hsmlops:infra:Cosmos', name, {}, opts);

    // Why: predictions, registry, experiments and audit records; Entra-only (no account keys) and TLS 1.2+.
    this.account = new cosmosdb.DatabaseAccount(
      `${name}-account`,
      {
        accountName: args.accountName,
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        kind: cosmosdb.DatabaseAccountKind.GlobalDocumentDB,
        databaseAccountOfferType: cosmosdb.DatabaseAccountOfferType.Standard,
        capabilities: [{ name: 'EnableServerless' }],
        locations: [{ locationName: args.location, failoverPriority: 0, isZoneRedundant: false }],
        consistencyPolicy: { defaultConsistencyLevel: cosmosdb.DefaultConsistencyLevel.Session },
        disableLocalAuth: true,
        disableKeyBasedMetadataWriteAccess: true,
        minimalTlsVersion: cosmosdb.MinimalTlsVersion.Tls12,
        // Continuous backup lets an auditor's record be restored to a point in time after a bad write.
        backupPolicy: {
          type: 'Continuous',
          continuousModeProperties: { tier: cosmosdb.ContinuousTier.Continuous7Days },
        },
      },
      { parent: this },
    );

    // Why: one database groups the containers; serverless accounts take no database throughput.
    this.database = new cosmosdb.SqlResourceSqlDatabase(
      `${name}-database`,
      {
        accountName: this.account.name,
        resourceGroupName: args.resourceGroupName,
        databaseName: args.databaseName,
        resource: { id: args.databaseName },
      },
      { parent: this },
    );

    for (const container of args.containers) {
      // Why: containers exist before the app starts, so the app never needs control-plane rights to create them.
      new cosmosdb.SqlResourceSqlContainer(
        `${name}-${container.name}`,
        {
          accountName: this.account.name,
          resourceGroupName: args.resourceGroupName,
          databaseName: this.database.name,
          containerName: container.name,
          resource: {
            id: container.name,
            partitionKey: {
              paths: [container.partitionKeyPath],
              kind: cosmosdb.PartitionKind.Hash,
              version: 2,
            },
            indexingPolicy: indexingPolicyFor(container.indexedProperties),
            ...(container.defaultTtlSeconds === undefined ? {} : { defaultTtl: container.defaultTtlSeconds }),
          },
        },
        { parent: this },
      );
    }

    this.accountName = this.account.name;
    this.accountId = this.account.id;
    this.endpoint = this.account.documentEndpoint;
    this.registerOutputs({ accountName: this.accountName, endpoint: this.endpoint });
  }
}
