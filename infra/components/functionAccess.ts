import * as authorization from '@pulumi/azure-native/authorization';
import * as cosmosdb from '@pulumi/azure-native/cosmosdb';
import * as pulumi from '@pulumi/pulumi';
import { deterministicGuid } from '../naming';
import { builtInRoleIds, cosmosBuiltInDataContributorId, roleDefinitionResourceId } from '../roles';

export interface FunctionAccessArgs {
  /** Object id of the function app's managed identity. */
  readonly principalId: pulumi.Input<string>;
  readonly subscriptionId: pulumi.Input<string>;
  /** `AzureWebJobsStorage`: the host's own account (durable task hub, trigger bookkeeping, deployment package). */
  readonly hostStorageAccountId: pulumi.Input<string>;
  /** `DataStorage`: the account of the data-flow containers. */
  readonly dataStorageAccountId: pulumi.Input<string>;
  /** The Service Bus queue the `feedbackQueue` function is triggered by. */
  readonly feedbackQueueId: pulumi.Input<string>;
  /** The Service Bus topic the app publishes lifecycle events to. */
  readonly lifecycleTopicId: pulumi.Input<string>;
  readonly appInsightsId: pulumi.Input<string>;
  readonly cosmos: {
    readonly resourceGroupName: pulumi.Input<string>;
    readonly accountName: pulumi.Input<string>;
    readonly accountId: pulumi.Input<string>;
  };
}

/**
 * Everything the function app may do, granted to its managed identity and nothing else: with keys disabled on
 * every service, these assignments are the app's only access. Each grant is scoped to the one resource that
 * needs it. Not granted, on purpose: Storage Account Contributor on the host account, which the blob trigger docs
 * list for the polling trigger's log scans; Flex Consumption only runs Event Grid-source blob triggers, which
 * never scan, and the role would let the app list the account keys.
 */
export class FunctionAccess extends pulumi.ComponentResource {
  public readonly roleAssignments: authorization.RoleAssignment[] = [];
  public readonly cosmosRoleAssignment: cosmosdb.SqlResourceSqlRoleAssignment;

  constructor(name: string, args: FunctionAccessArgs, opts?: pulumi.ComponentResourceOptions) {
    super('hsmlops:infra:FunctionAccess', name, {}, opts);
    const host = args.hostStorageAccountId;
    const data = args.dataStorageAccountId;

    // Why: the host keeps its keys, locks and blob-trigger receipts in AzureWebJobsStorage blobs, durable large
    // messages and leases live there, and Flex reads the deployment package from it with this identity
    // (docs: functions-reference "Connecting to host storage with an identity": Storage Blob Data Owner).
    this.assign(`${name}-host-blob-owner`, args, host, builtInRoleIds.storageBlobDataOwner);
    // Why: the durable task hub's control and work-item queues (Azure Storage provider).
    this.assign(`${name}-host-queue-contributor`, args, host, builtInRoleIds.storageQueueDataContributor);
    // Why: the durable task hub's history and instances tables, and the host's diagnostic events; the only
    // account the app uses tables in.
    this.assign(`${name}-host-table-contributor`, args, host, builtInRoleIds.storageTableDataContributor);

    // Why: the app reads uploads and writes datasets, models, reports, quarantine and audit spill, and the two
    // blob triggers (incoming/, datasets/) need Owner (docs include functions-blob-permissions: "Trigger:
    // Storage Blob Data Owner and Storage Queue Data Contributor").
    this.assign(`${name}-data-blob-owner`, args, data, builtInRoleIds.storageBlobDataOwner);
    // Why: a blob that fails every retry goes to the poison queue "on the storage account specified by the
    // connection" (same docs, footnote 1), so the trigger needs queue rights on the data account; no tables.
    this.assign(`${name}-data-queue-contributor`, args, data, builtInRoleIds.storageQueueDataContributor);

    // Why: the feedbackQueue trigger receives here. Owner rather than Data Receiver because the scale controller
    // reads the queue length with Manage rights; with Listen rights "scaling reverts to incremental scale"
    // (docs: functions-target-based-scaling, "Scale efficiency"), which Flex Consumption does not offer. Scoped
    // to this one queue, so it manages nothing else in the namespace.
    this.assign(
      `${name}-feedback-queue-owner`,
      args,
      args.feedbackQueueId,
      builtInRoleIds.serviceBusDataOwner,
    );
    // Why: lifecycle events are published to this topic; the app never receives from its subscriptions.
    this.assign(
      `${name}-lifecycle-topic-sender`,
      args,
      args.lifecycleTopicId,
      builtInRoleIds.serviceBusDataSender,
    );

    // Why: Application Insights refuses key-based ingestion, so telemetry is sent with this identity.
    this.assign(
      `${name}-telemetry-publisher`,
      args,
      args.appInsightsId,
      builtInRoleIds.monitoringMetricsPublisher,
    );

    // Why: Cosmos data-plane access is a Cosmos SQL role, not Azure RBAC; with local auth off it is the only way
    // in. Account scope: the account holds only this app's database, and the SDK reads account metadata first.
    this.cosmosRoleAssignment = new cosmosdb.SqlResourceSqlRoleAssignment(
      `${name}-cosmos-data-contributor`,
      {
        resourceGroupName: args.cosmos.resourceGroupName,
        accountName: args.cosmos.accountName,
        roleAssignmentId: pulumi
          .all([args.cosmos.accountId, args.principalId])
          .apply(([accountId, principalId]) =>
            deterministicGuid(accountId, principalId, cosmosBuiltInDataContributorId),
          ),
        roleDefinitionId: pulumi.interpolate`${args.cosmos.accountId}/sqlRoleDefinitions/${cosmosBuiltInDataContributorId}`,
        scope: args.cosmos.accountId,
        principalId: args.principalId,
      },
      { parent: this },
    );

    this.registerOutputs({
      roleAssignmentIds: this.roleAssignments.map((assignment) => assignment.id),
      cosmosRoleAssignmentId: this.cosmosRoleAssignment.id,
    });
  }

  private assign(
    resourceName: string,
    args: FunctionAccessArgs,
    scope: pulumi.Input<string>,
    roleId: string,
  ): void {
    this.roleAssignments.push(
      new authorization.RoleAssignment(
        resourceName,
        {
          // A name derived from scope, principal and role makes a re-run find the same assignment.
          roleAssignmentName: pulumi
            .all([scope, args.principalId])
            .apply(([scopeId, principalId]) => deterministicGuid(scopeId, principalId, roleId)),
          scope,
          principalId: args.principalId,
          // Skips the directory lookup that fails while a fresh managed identity is still replicating.
          principalType: authorization.PrincipalType.ServicePrincipal,
          roleDefinitionId: pulumi
            .output(args.subscriptionId)
            .apply((subscriptionId) => roleDefinitionResourceId(subscriptionId, roleId)),
        },
        { parent: this },
      ),
    );
  }
}
