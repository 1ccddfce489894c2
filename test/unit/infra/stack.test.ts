import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_RETRAIN_SCHEDULE } from '../../../shared/config';
import { BLOB_CONTAINERS, COSMOS_CONTAINERS } from '../../../shared/platform/resources';
import { builtInRoleIds, cosmosBuiltInDataContributorId } from '../../../infra/roles';
import { appSettingNames, deploymentBlobContainer, serviceBusEntities } from '../../../infra/settings';
import {
  named,
  ofType,
  runStack,
  testDeployerPrincipalId,
  testEventGridPrincipalId,
  testPrincipalId,
  testSubscriptionId,
  type StackRun,
} from './harness';

let run: StackRun;

beforeAll(async () => {
  run = await runStack();
});

/** Every string (keys included) anywhere in a value, with its path. */
function stringsIn(value: unknown, path = ''): { path: string; text: string }[] {
  if (typeof value === 'string') return [{ path, text: value }];
  if (Array.isArray(value)) return value.flatMap((item, index) => stringsIn(item, `${path}[${index}]`));
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, item]) => [
      { path: `${path}.${key}`, text: key },
      ...stringsIn(item, `${path}.${key}`),
    ]);
  }
  return [];
}

function appSettings(): Map<string, string> {
  const app = ofType(run, 'web:WebApp')[0]!;
  const pairs = app.inputs.siteConfig.appSettings as { name: string; value: string }[];
  return new Map(pairs.map((pair) => [pair.name, pair.value]));
}

function idOf(type: string, physicalName: string): string {
  return named(run, type, physicalName).id;
}

describe('component structure', () => {
  it('parents every Azure resource under one of the platform components', () => {
    const azureResources = run.resources.filter((resource) => resource.type.startsWith('azure-native:'));
    expect(azureResources.length).toBeGreaterThan(30);
    for (const resource of azureResources) {
      expect(resource.urn).toMatch(/::hsmlops:infra:[A-Za-z]+\$azure-native:/);
    }
  });

  it('nests the components under the Platform component', () => {
    const components = run.resources.filter(
      (resource) => resource.type.startsWith('hsmlops:infra:') && resource.type !== 'hsmlops:infra:Platform',
    );
    expect(components.map((component) => component.type).sort()).toEqual([
      'hsmlops:infra:Alerts',
      'hsmlops:infra:BlobEvents',
      'hsmlops:infra:Cosmos',
      'hsmlops:infra:DeploymentPackage',
      'hsmlops:infra:FunctionAccess',
      'hsmlops:infra:FunctionApp',
      'hsmlops:infra:Messaging',
      'hsmlops:infra:Monitoring',
      'hsmlops:infra:Storage',
    ]);
    for (const component of components) {
      expect(component.urn).toContain('hsmlops:infra:Platform$hsmlops:infra:');
    }
  });

  it('puts every resource in the stack resource group and region', () => {
    const group = ofType(run, 'resources:ResourceGroup');
    expect(group).toHaveLength(1);
    expect(group[0]!.inputs.location).toBe('westeurope');
    for (const resource of run.resources) {
      if (
        'resourceGroupName' in resource.inputs &&
        resource.type !== 'azure-native:resources:ResourceGroup'
      ) {
        expect(resource.inputs.resourceGroupName).toBe(group[0]!.physicalName);
      }
      // Action groups are global resources; everything else lives in the stack's region.
      const region = resource.type === 'azure-native:monitor:ActionGroup' ? 'Global' : 'westeurope';
      if ('location' in resource.inputs) expect(resource.inputs.location).toBe(region);
    }
  });
});

describe('no keys or connection strings', () => {
  const forbidden = [
    /AccountKey/i,
    /SharedAccessKey/i,
    /SharedAccessSignature/i,
    /DefaultEndpointsProtocol/i,
    /StorageAccountConnectionString/i,
    /\bsig=/i,
    /listKeys|listConnectionStrings/i,
    /Password/i,
    /client_?secret/i,
  ];

  it('has no credential material in any input of any resource', () => {
    const offending = run.resources.flatMap((resource) =>
      stringsIn(resource.inputs)
        .filter(({ text }) => forbidden.some((pattern) => pattern.test(text)))
        .map(({ path }) => `${resource.type} ${resource.name}${path}`),
    );
    expect(offending).toEqual([]);
  });

  it('sets exactly the identity-based app settings and nothing else', () => {
    expect([...appSettings().keys()].sort()).toEqual(Object.values(appSettingNames).sort());
  });

  it('has no secret-looking setting names, except the Application Insights address', () => {
    const secretLooking = [...appSettings().keys()].filter(
      (name) =>
        /connection_?string|key|secret|password|token/i.test(name) &&
        name !== appSettingNames.appInsightsConnectionString,
    );
    expect(secretLooking).toEqual([]);
  });

  it('sends telemetry with Entra ID to an Application Insights that refuses key auth', () => {
    expect(appSettings().get(appSettingNames.appInsightsAuthentication)).toBe('Authorization=AAD');
    expect(ofType(run, 'applicationinsights:Component')[0]!.inputs.disableLocalAuth).toBe(true);
  });

  it('disables basic-auth publishing credentials (FTP and SCM)', () => {
    for (const type of ['web:WebAppFtpAllowed', 'web:WebAppScmAllowed']) {
      const [policy] = ofType(run, type);
      expect(policy!.inputs.allow).toBe(false);
      expect(policy!.inputs.name).toBe(run.outputs.functionAppName);
    }
  });
});

describe('function app settings', () => {
  it('points every identity-based connection at the provisioned resources', () => {
    const settings = appSettings();
    const host = run.outputs.hostStorageAccountName;
    const data = run.outputs.dataStorageAccountName;
    expect(settings.get('AzureWebJobsStorage__accountName')).toBe(host);
    expect(settings.get('DataStorage__accountName')).toBe(data);
    expect(settings.get('DataStorage__blobServiceUri')).toBe(`https://${data}.blob.core.windows.net/`);
    expect(settings.get('DataStorage__queueServiceUri')).toBe(`https://${data}.queue.core.windows.net/`);
    const cosmos = ofType(run, 'cosmosdb:DatabaseAccount')[0]!;
    expect(settings.get('CosmosDb__accountEndpoint')).toBe(
      `https://${cosmos.physicalName}.documents.azure.com:443/`,
    );
    const namespace = ofType(run, 'servicebus:Namespace')[0]!;
    expect(settings.get('ServiceBus__fullyQualifiedNamespace')).toBe(
      `${namespace.physicalName}.servicebus.windows.net`,
    );
    expect(settings.get('COSMOS_DATABASE')).toBe('hsmlops');
    expect(settings.get('HS_ENV')).toBe('azure');
    expect(settings.get('DURABLE_TASK_HUB')).toMatch(/^[A-Za-z][A-Za-z0-9]{2,44}$/);
    expect(settings.get('APPLICATIONINSIGHTS_CONNECTION_STRING')).toMatch(/^InstrumentationKey=/);
    expect(settings.get('RETRAIN_SCHEDULE')).toBe(DEFAULT_RETRAIN_SCHEDULE);
  });

  it('leaves out the settings Flex Consumption rejects (runtime comes from functionAppConfig)', () => {
    const settings = appSettings();
    for (const name of [
      'FUNCTIONS_WORKER_RUNTIME',
      'FUNCTIONS_EXTENSION_VERSION',
      'WEBSITE_NODE_DEFAULT_VERSION',
      'WEBSITE_RUN_FROM_PACKAGE',
      'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING',
      'WEBSITE_CONTENTSHARE',
    ]) {
      expect(settings.has(name)).toBe(false);
    }
  });
});

describe('Flex Consumption function app', () => {
  it('uses a Linux FC1 Flex Consumption plan', () => {
    const [plan] = ofType(run, 'web:AppServicePlan');
    expect(plan!.inputs.sku).toEqual({ name: 'FC1', tier: 'FlexConsumption' });
    expect(plan!.inputs.reserved).toBe(true);
    expect(plan!.inputs.kind).toBe('functionapp');
  });

  it('runs Node 20 on the plan with a system-assigned identity', () => {
    const [plan] = ofType(run, 'web:AppServicePlan');
    const [app] = ofType(run, 'web:WebApp');
    expect(app!.inputs.kind).toBe('functionapp,linux');
    expect(app!.inputs.serverFarmId).toBe(plan!.id);
    expect(app!.inputs.identity).toEqual({ type: 'SystemAssigned' });
    expect(app!.inputs.functionAppConfig.runtime).toEqual({ name: 'node', version: '20' });
    expect(app!.inputs.functionAppConfig.scaleAndConcurrency).toEqual({
      instanceMemoryMB: 2048,
      maximumInstanceCount: 40,
    });
  });

  it('deploys from a container in the host account, read with the app identity', () => {
    const [app] = ofType(run, 'web:WebApp');
    const storage = app!.inputs.functionAppConfig.deployment.storage;
    expect(storage.type).toBe('blobContainer');
    expect(storage.authentication).toEqual({ type: 'SystemAssignedIdentity' });
    const host = run.outputs.hostStorageAccountName;
    expect(storage.value).toBe(`https://${host}.blob.core.windows.net/${deploymentBlobContainer}`);
    const container = named(run, 'storage:BlobContainer', deploymentBlobContainer);
    expect(container.inputs.accountName).toBe(host);
  });

  it('accepts HTTPS only, TLS 1.2 or newer, no FTP', () => {
    const [app] = ofType(run, 'web:WebApp');
    expect(app!.inputs.httpsOnly).toBe(true);
    expect(app!.inputs.siteConfig.minTlsVersion).toBe('1.2');
    expect(app!.inputs.siteConfig.scmMinTlsVersion).toBe('1.2');
    expect(app!.inputs.siteConfig.ftpsState).toBe('Disabled');
  });
});

describe('storage accounts', () => {
  it('creates a host and a data account, both Entra-only with TLS 1.2 and no public blobs', () => {
    const accounts = ofType(run, 'storage:StorageAccount');
    expect(accounts.map((account) => account.physicalName).sort()).toEqual(
      [run.outputs.dataStorageAccountName, run.outputs.hostStorageAccountName].sort(),
    );
    for (const account of accounts) {
      expect(account.inputs).toMatchObject({
        kind: 'StorageV2',
        minimumTlsVersion: 'TLS1_2',
        enableHttpsTrafficOnly: true,
        allowBlobPublicAccess: false,
        allowSharedKeyAccess: false,
        defaultToOAuthAuthentication: true,
      });
    }
  });

  it('creates the data-flow containers in the data account, all private', () => {
    const containers = ofType(run, 'storage:BlobContainer');
    const inData = containers.filter((c) => c.inputs.accountName === run.outputs.dataStorageAccountName);
    expect(inData.map((c) => c.physicalName).sort()).toEqual(
      ['incoming', 'quarantine', 'datasets', 'models', 'reports', 'audit-spill'].sort(),
    );
    expect(Object.values(BLOB_CONTAINERS).sort()).toEqual(inData.map((c) => c.physicalName).sort());
    for (const container of containers) expect(container.inputs.publicAccess).toBe('None');
  });

  it('keeps data blob versions and soft-deleted blobs recoverable', () => {
    const [properties] = ofType(run, 'storage:BlobServiceProperties');
    expect(properties!.inputs.accountName).toBe(run.outputs.dataStorageAccountName);
    expect(properties!.inputs.isVersioningEnabled).toBe(true);
    expect(properties!.inputs.deleteRetentionPolicy).toEqual({ enabled: true, days: 30 });
    expect(properties!.inputs.containerDeleteRetentionPolicy).toEqual({ enabled: true, days: 30 });
  });
});

describe('Cosmos DB', () => {
  it('is a serverless NoSQL account with local auth disabled and TLS 1.2', () => {
    const [account] = ofType(run, 'cosmosdb:DatabaseAccount');
    expect(account!.inputs).toMatchObject({
      kind: 'GlobalDocumentDB',
      disableLocalAuth: true,
      disableKeyBasedMetadataWriteAccess: true,
      minimalTlsVersion: 'Tls12',
      capabilities: [{ name: 'EnableServerless' }],
    });
    expect(account!.inputs.locations).toHaveLength(1);
  });

  it('keeps continuous (point-in-time) backup', () => {
    const [account] = ofType(run, 'cosmosdb:DatabaseAccount');
    expect(account!.inputs.backupPolicy).toEqual({
      type: 'Continuous',
      continuousModeProperties: { tier: 'Continuous7Days' },
    });
  });

  it('indexes only what the queries filter on, leaving prediction payloads out of the index', () => {
    const policies = Object.fromEntries(
      ofType(run, 'cosmosdb:SqlResourceSqlContainer').map((c) => [
        c.physicalName,
        c.inputs.resource.indexingPolicy,
      ]),
    );
    for (const policy of Object.values(policies)) {
      expect(policy.indexingMode).toBe('consistent');
      expect(policy.excludedPaths).toEqual([{ path: '/*' }, { path: '/"_etag"/?' }]);
    }
    expect(policies.predictions.includedPaths).toEqual([{ path: '/createdAt/?' }]);
    expect(policies.feedback.includedPaths).toEqual([{ path: '/servedAt/?' }]);
    expect(policies.alerts.includedPaths).toEqual([
      { path: '/createdAt/?' },
      { path: '/retraining/action/?' },
      { path: '/retraining/startedAt/?' },
    ]);
    expect(policies.datasets.includedPaths).toEqual([]);
  });

  it('creates database hsmlops with every container and its partition key', () => {
    const [database] = ofType(run, 'cosmosdb:SqlResourceSqlDatabase');
    expect(database!.inputs.resource).toEqual({ id: 'hsmlops' });
    const containers = ofType(run, 'cosmosdb:SqlResourceSqlContainer');
    const keys = Object.fromEntries(
      containers.map((c) => {
        expect(c.inputs.databaseName).toBe('hsmlops');
        expect(c.inputs.resource.id).toBe(c.physicalName);
        expect(c.inputs.resource.partitionKey.kind).toBe('Hash');
        return [c.physicalName, c.inputs.resource.partitionKey.paths];
      }),
    );
    // The app's declaration is the contract: every container it uses exists with the same partition key.
    expect(keys).toEqual(
      Object.fromEntries(Object.values(COSMOS_CONTAINERS).map((c) => [c.id, [c.partitionKey]])),
    );
    expect(Object.keys(keys).sort()).toEqual(
      [
        'predictions',
        'models',
        'registry-log',
        'experiments',
        'feedback',
        'datasets',
        'pipelines',
        'alerts',
      ].sort(),
    );
    expect(keys.predictions).toEqual(['/id']);
    expect(keys.feedback).toEqual(['/predictionId']);
  });

  it('expires predictions after the retention period and keeps everything else', () => {
    const containers = ofType(run, 'cosmosdb:SqlResourceSqlContainer');
    for (const container of containers) {
      const ttl = container.inputs.resource.defaultTtl;
      if (container.physicalName === 'predictions') expect(ttl).toBe(1095 * 86_400);
      else expect(ttl).toBeUndefined();
    }
  });
});

describe('Service Bus', () => {
  it('is a Standard namespace with local (SAS) auth disabled and TLS 1.2', () => {
    const [namespace] = ofType(run, 'servicebus:Namespace');
    expect(namespace!.inputs.sku).toEqual({ name: 'Standard', tier: 'Standard' });
    expect(namespace!.inputs.disableLocalAuth).toBe(true);
    expect(namespace!.inputs.minimumTlsVersion).toBe('1.2');
  });

  it('dead-letters feedback after 10 deliveries', () => {
    const queue = named(run, 'servicebus:Queue', serviceBusEntities.feedbackQueue);
    expect(queue.inputs.deadLetteringOnMessageExpiration).toBe(true);
    expect(queue.inputs.maxDeliveryCount).toBe(10);
  });

  it('has the lifecycle-events topic with the app subscription', () => {
    const topic = named(run, 'servicebus:Topic', 'lifecycle-events');
    const subscription = named(run, 'servicebus:Subscription', serviceBusEntities.lifecycleSubscription);
    expect(subscription.inputs.topicName).toBe(topic.physicalName);
    expect(subscription.inputs.deadLetteringOnMessageExpiration).toBe(true);
    expect(subscription.inputs.maxDeliveryCount).toBe(10);
  });
});

describe('monitoring', () => {
  it('uses workspace-based Application Insights', () => {
    const [workspace] = ofType(run, 'operationalinsights:Workspace');
    const [insights] = ofType(run, 'applicationinsights:Component');
    expect(insights!.inputs.workspaceResourceId).toBe(workspace!.id);
    expect(insights!.inputs.ingestionMode).toBe('LogAnalytics');
    expect(workspace!.inputs.retentionInDays).toBe(30);
  });
});

describe('alerts', () => {
  it('alerts on the API 5xx rate and p95 latency over 5 minutes, through one action group', () => {
    const [group] = ofType(run, 'monitor:ActionGroup');
    expect(group!.inputs.enabled).toBe(true);
    // No alertEmail in this stack's config: the group exists without receivers.
    expect(group!.inputs.emailReceivers).toEqual([]);
    const insights = ofType(run, 'applicationinsights:Component')[0]!.id;
    const rules = ofType(run, 'monitor:ScheduledQueryRule');
    expect(rules).toHaveLength(2);
    const byColumn = new Map(rules.map((r) => [r.inputs.criteria.allOf[0].metricMeasureColumn as string, r]));
    const expectations = [
      {
        column: 'serverErrorPercent',
        threshold: 1,
        severity: 1,
        measure: /countif\(toint\(resultCode\) >= 500\)/,
      },
      { column: 'p95DurationMs', threshold: 1000, severity: 2, measure: /percentile\(duration, 95\)/ },
    ];
    for (const { column, threshold, severity, measure } of expectations) {
      const rule = byColumn.get(column);
      expect(rule).toBeDefined();
      expect(rule!.inputs).toMatchObject({
        kind: 'LogAlert',
        enabled: true,
        severity,
        scopes: [insights],
        evaluationFrequency: 'PT5M',
        windowSize: 'PT5M',
        autoMitigate: true,
        actions: { actionGroups: [group!.id] },
      });
      const [condition] = rule!.inputs.criteria.allOf;
      expect(condition).toMatchObject({ operator: 'GreaterThan', threshold, timeAggregation: 'Maximum' });
      expect(condition.query).toMatch(measure);
      expect(condition.query).toContain('startswith "/api/"');
      expect(condition.query).toContain('where total >= 10');
    }
  });
});

describe('role assignments', () => {
  const roleDefinition = (roleId: string): string =>
    `/subscriptions/${testSubscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${roleId}`;

  it('grants exactly the roles the app needs, each scoped to its resource, to the app identity only', () => {
    // The Event Grid topic's own dead-letter grant is checked in blobEvents.test.ts, the deployer's upload
    // grant in packagingStack.test.ts.
    const assignments = ofType(run, 'authorization:RoleAssignment').filter(
      (a) =>
        a.inputs.principalId !== testEventGridPrincipalId && a.inputs.principalId !== testDeployerPrincipalId,
    );
    const host = idOf('storage:StorageAccount', run.outputs.hostStorageAccountName);
    const data = idOf('storage:StorageAccount', run.outputs.dataStorageAccountName);
    const feedbackQueue = idOf('servicebus:Queue', serviceBusEntities.feedbackQueue);
    const lifecycleTopic = idOf('servicebus:Topic', serviceBusEntities.lifecycleTopic);
    const insights = ofType(run, 'applicationinsights:Component')[0]!.id;
    const expected = [
      `${host} ${roleDefinition(builtInRoleIds.storageBlobDataOwner)}`,
      `${host} ${roleDefinition(builtInRoleIds.storageQueueDataContributor)}`,
      `${host} ${roleDefinition(builtInRoleIds.storageTableDataContributor)}`,
      `${data} ${roleDefinition(builtInRoleIds.storageBlobDataOwner)}`,
      `${data} ${roleDefinition(builtInRoleIds.storageQueueDataContributor)}`,
      `${feedbackQueue} ${roleDefinition(builtInRoleIds.serviceBusDataOwner)}`,
      `${lifecycleTopic} ${roleDefinition(builtInRoleIds.serviceBusDataSender)}`,
      `${insights} ${roleDefinition(builtInRoleIds.monitoringMetricsPublisher)}`,
    ];
    expect(assignments.map((a) => `${a.inputs.scope} ${a.inputs.roleDefinitionId}`).sort()).toEqual(
      expected.sort(),
    );
    for (const assignment of assignments) {
      expect(assignment.inputs.principalId).toBe(testPrincipalId);
      expect(assignment.inputs.principalType).toBe('ServicePrincipal');
    }
  });

  it('keeps table rights and every namespace-wide Service Bus right away from the app', () => {
    const assignments = ofType(run, 'authorization:RoleAssignment');
    const data = idOf('storage:StorageAccount', run.outputs.dataStorageAccountName);
    const namespace = ofType(run, 'servicebus:Namespace')[0]!.id;
    const tableRole = roleDefinition(builtInRoleIds.storageTableDataContributor);
    expect(
      assignments.filter((a) => a.inputs.scope === data && a.inputs.roleDefinitionId === tableRole),
    ).toEqual([]);
    expect(assignments.filter((a) => a.inputs.scope === namespace)).toEqual([]);
    const subscription = `/subscriptions/${testSubscriptionId}`;
    const group = ofType(run, 'resources:ResourceGroup')[0]!.id;
    expect(assignments.filter((a) => a.inputs.scope === subscription || a.inputs.scope === group)).toEqual(
      [],
    );
  });

  it('uses the well-known built-in role GUIDs', () => {
    expect(builtInRoleIds).toEqual({
      storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
      storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
      storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
      storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
      serviceBusDataOwner: '090c5cfd-751d-490a-894a-3ce6f1109419',
      serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39',
      monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
    });
  });

  it('names each assignment with a distinct GUID', () => {
    const names = ofType(run, 'authorization:RoleAssignment').map((a) => String(a.inputs.roleAssignmentName));
    for (const name of names) {
      expect(name).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    }
    expect(new Set(names).size).toBe(names.length);
  });

  it('grants Cosmos DB Built-in Data Contributor on the account through a SQL role assignment', () => {
    const [account] = ofType(run, 'cosmosdb:DatabaseAccount');
    const [assignment] = ofType(run, 'cosmosdb:SqlResourceSqlRoleAssignment');
    expect(cosmosBuiltInDataContributorId).toBe('00000000-0000-0000-0000-000000000002');
    expect(assignment!.inputs).toMatchObject({
      accountName: account!.physicalName,
      scope: account!.id,
      principalId: testPrincipalId,
      roleDefinitionId: `${account!.id}/sqlRoleDefinitions/00000000-0000-0000-0000-000000000002`,
    });
    expect(assignment!.inputs.roleAssignmentId).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('stack outputs', () => {
  it('publishes the API base URL, app URL, account names, Cosmos endpoint and Service Bus namespace', () => {
    const [app] = ofType(run, 'web:WebApp');
    expect(run.outputs.functionAppUrl).toBe(`https://${app!.physicalName}.azurewebsites.net`);
    // The route prefix comes from host.json, which the Functions host reads; the output must agree with it.
    const hostJson = JSON.parse(readFileSync(join(__dirname, '../../../host.json'), 'utf8')) as {
      extensions: { http: { routePrefix: string } };
    };
    expect(run.outputs.apiBaseUrl).toBe(
      `https://${app!.physicalName}.azurewebsites.net/${hostJson.extensions.http.routePrefix}`,
    );
    expect(run.outputs.functionAppName).toBe(app!.physicalName);
    expect(run.outputs.hostStorageAccountName).toMatch(/^hsmlopshost[0-9a-f]{8}$/);
    expect(run.outputs.dataStorageAccountName).toMatch(/^hsmlopsdata[0-9a-f]{8}$/);
    expect(run.outputs.cosmosEndpoint).toMatch(
      /^https:\/\/hsmlops-cosmos-[0-9a-f]{8}\.documents\.azure\.com:443\/$/,
    );
    expect(run.outputs.serviceBusNamespace).toMatch(/^hsmlops-bus-[0-9a-f]{8}\.servicebus\.windows\.net$/);
    expect(run.outputs.resourceGroupName).toBe('rg-hsmlops-unit');
  });
});
