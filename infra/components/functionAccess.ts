import * as authorization from '@pulumi/azure-native/authorization';
import * as cosmosdb from '@pulumi/azure-native/cosmosdb';
import * as pulumi from '@pulumi/pulumi';
import { deterministicGuid } from '../naming';
import { builtInRoleIds, cosmosBuiltInDataContributorId, roleDefinitionResourceId } from '../roles';

export interface FunctionAccessArgs {
  /** Object id of the function app's managed identity. */
  readonly principalId: pulumi.Input<string>;
  readonly subscriptionId: pulumi.Input<string>;
  /** Storage accounts the app uses (host and data), by a short label used in resource names. */
  readonly storageAccountIds: Readonly<Record<string, pulumi.Input<string>>>;
  readonly serviceBusNamespaceId: pulumi.Input<string>;
  readonly appInsightsId: pulumi.Input<string>;
  readonly cosmos: {
    readonly resourceGroupName: pulumi.Input<string>;
    readonly accountName: pulumi.Input<string>;
    readonly accountId: pulumi.Input<string>;
  };
}

/**
 * Everything the function app may do, granted to its managed identity and nothing else: with keys disabled on
 * every service, these assignments are the app's only access.
 */
export class FunctionAccess extends pulumi.ComponentResource {
  public readonly roleAssignments: authorization.RoleAssignment[] = [];
  public readonly cosmosRoleAssignment: cosmosdb.SqlResourceSqlRoleAssignment;

  constructor(name: string, args: FunctionAccessArgs, opts?: pulumi.ComponentResourceOptions) {
    super('hsmlops:infra:FunctionAccess', name, {}, opts);

    for (const [label, accountId] of Object.entries(args.storageAccountIds)) {
      // Why: blob bindings read and write data, and Flex reads its deployment package, with this identity.
      this.assign(`${name}-${label}-blob-owner`, args, accountId, builtInRoleIds.storageBlobDataOwner);
      // Why: durable task-hub control and work-item queues, blob-trigger queues.
      this.assign(
        `${name}-${label}-queue-contributor`,
        args,
        accountId,
        builtInRoleIds.storageQueueDataContributor,
      );
      // Why: durable history and instance tables.
      this.assign(
        `${name}-${label}-table-contributor`,
        args,
        accountId,
        builtInRoleIds.storageTableDataContributor,
      );
    }

    // Why: send and receive, plus the entity metadata reads the trigger's scale monitoring needs (Owner grants it).
    this.assign(
      `${name}-servicebus-owner`,
      args,
      args.serviceBusNamespaceId,
      builtInRoleIds.serviceBusDataOwner,
    );

    // Why: Application Insights refuses key-based ingestion, so telemetry is sent with this identity.
    this.assign(
      `${name}-telemetry-publisher`,
      args,
      args.appInsightsId,
      builtInRoleIds.monitoringMetricsPublisher,
    );

    // Why: Cosmos data-plane access is a Cosmos SQL role, not Azure RBAC; with local auth off it is the only way in.
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
