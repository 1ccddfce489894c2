/**
 * Built-in role definition ids (the same GUIDs in every Azure cloud). Named here once so tests and the program
 * cannot drift apart.
 */
export const builtInRoleIds = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
  serviceBusDataOwner: '090c5cfd-751d-490a-894a-3ce6f1109419',
  serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39',
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
} as const;

/** Cosmos DB's data-plane role "Cosmos DB Built-in Data Contributor" (a SQL role, not an Azure RBAC role). */
export const cosmosBuiltInDataContributorId = '00000000-0000-0000-0000-000000000002';

/** Full resource id of a built-in Azure RBAC role in a subscription. */
export function roleDefinitionResourceId(subscriptionId: string, roleId: string): string {
  return `/subscriptions/${subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${roleId}`;
}
