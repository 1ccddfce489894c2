import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { MockMonitor } from '@pulumi/pulumi/runtime/mocks';
import { blobsExtensionKeyName } from '../../../infra/components/blobEvents';
import { main, type StackOutputs } from '../../../infra/program';

/**
 * Runs the real stack program against Pulumi's mock engine and records every resource with the inputs the
 * program gave it (after all Outputs resolved), so tests assert on what Azure would receive.
 */

export const testProject = 'hs-mlops';
export const testStack = 'unit';
export const testSubscriptionId = '0b1f6471-1bf0-4dda-aec3-111122223333';
export const testTenantId = '72f988bf-86f1-41af-91ab-2d7cd011db47';
/** The managed identity the mocked Function App reports; every role assignment for the app must name it. */
export const testPrincipalId = '9a7c4f1e-5d3b-4e2a-8c6f-0123456789ab';
/** The managed identity the mocked Event Grid system topic reports (it writes dead letters). */
export const testEventGridPrincipalId = '3c1d2e4f-6a7b-4c8d-9e0f-abcdef012345';
/** Object id of whoever runs `pulumi up`, as the mocked `getClientConfig` reports it. */
export const testDeployerPrincipalId = '5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b';
/** The `blobs_extension` system key the mocked Function App host reports. */
export const testBlobsExtensionKey = 'blobs-key/with+chars==';

export interface RecordedResource {
  readonly type: string;
  /** Pulumi logical name. */
  readonly name: string;
  /** Physical (Azure) name the program chose. */
  readonly physicalName: string;
  readonly id: string;
  readonly inputs: Record<string, any>;
  /** URN as the mock engine built it: its type path shows the parent chain. */
  readonly urn: string;
}

/** A provider function the program invoked (`call` in the mocks), with its arguments. */
export interface RecordedCall {
  readonly token: string;
  readonly inputs: Record<string, any>;
  /** `type name` of every resource registered before the call: what an invoke's `dependsOn` waited for. */
  readonly registeredBefore: readonly string[];
  /** `type name` of every resource whose registration had completed (the engine answered) before the call. */
  readonly settledBefore: readonly string[];
}

/** Type prefix of Pulumi dynamic resources (`pulumi.dynamic.Resource` with a type name). */
export const dynamicTypePrefix = 'pulumi-nodejs:dynamic:';
/**
 * How long the mock engine takes to answer a dynamic resource's registration. Real ones (upload, warm-up) take
 * minutes; the delay makes whatever does not wait for them visibly run first.
 */
const dynamicRegistrationDelayMs = 30;

export interface StackRun {
  readonly resources: readonly RecordedResource[];
  readonly calls: readonly RecordedCall[];
  readonly outputs: { readonly [K in keyof StackOutputs]: string };
}

/** The input that holds a resource's own Azure name, per resource type. */
const physicalNameKey: Readonly<Record<string, string>> = {
  'azure-native:resources:ResourceGroup': 'resourceGroupName',
  'azure-native:storage:StorageAccount': 'accountName',
  'azure-native:storage:BlobContainer': 'containerName',
  'azure-native:storage:BlobServiceProperties': 'blobServicesName',
  'azure-native:cosmosdb:DatabaseAccount': 'accountName',
  'azure-native:cosmosdb:SqlResourceSqlDatabase': 'databaseName',
  'azure-native:cosmosdb:SqlResourceSqlContainer': 'containerName',
  'azure-native:cosmosdb:SqlResourceSqlRoleAssignment': 'roleAssignmentId',
  'azure-native:servicebus:Namespace': 'namespaceName',
  'azure-native:servicebus:Queue': 'queueName',
  'azure-native:servicebus:Topic': 'topicName',
  'azure-native:servicebus:Subscription': 'subscriptionName',
  'azure-native:web:AppServicePlan': 'name',
  'azure-native:web:WebApp': 'name',
  'azure-native:operationalinsights:Workspace': 'workspaceName',
  'azure-native:applicationinsights:Component': 'resourceName',
  'azure-native:authorization:RoleAssignment': 'roleAssignmentName',
  'azure-native:monitor:ActionGroup': 'actionGroupName',
  'azure-native:monitor:ScheduledQueryRule': 'ruleName',
  'azure-native:eventgrid:SystemTopic': 'systemTopicName',
  'azure-native:eventgrid:SystemTopicEventSubscription': 'eventSubscriptionName',
};

function physicalNameOf(type: string, name: string, inputs: Record<string, any>): string {
  const key = physicalNameKey[type];
  const value = key === undefined ? undefined : inputs[key];
  return typeof value === 'string' ? value : name;
}

/** Outputs Azure computes on create, shaped like the real responses. */
function computedState(type: string, physicalName: string, inputs: Record<string, any>): Record<string, any> {
  switch (type) {
    case 'azure-native:storage:StorageAccount':
      return {
        primaryEndpoints: {
          blob: `https://${physicalName}.blob.core.windows.net/`,
          queue: `https://${physicalName}.queue.core.windows.net/`,
          table: `https://${physicalName}.table.core.windows.net/`,
        },
      };
    case 'azure-native:cosmosdb:DatabaseAccount':
      return { documentEndpoint: `https://${physicalName}.documents.azure.com:443/` };
    case 'azure-native:servicebus:Namespace':
      return { serviceBusEndpoint: `https://${physicalName}.servicebus.windows.net:443/` };
    case 'azure-native:web:WebApp':
      return {
        defaultHostName: `${physicalName}.azurewebsites.net`,
        identity: { ...inputs.identity, principalId: testPrincipalId, tenantId: testTenantId },
      };
    case 'azure-native:eventgrid:SystemTopic':
      return {
        identity: { ...inputs.identity, principalId: testEventGridPrincipalId, tenantId: testTenantId },
      };
    case 'azure-native:applicationinsights:Component':
      return {
        connectionString:
          'InstrumentationKey=00000000-1111-2222-3333-444444444444;' +
          'IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/',
      };
    default:
      return {};
  }
}

function mockId(type: string, physicalName: string, inputs: Record<string, any>): string {
  const [, module = 'mock', kind = 'resource'] = type.split(':');
  if (type === 'azure-native:resources:ResourceGroup') {
    return `/subscriptions/${testSubscriptionId}/resourceGroups/${physicalName}`;
  }
  const group = typeof inputs.resourceGroupName === 'string' ? inputs.resourceGroupName : 'none';
  return `/subscriptions/${testSubscriptionId}/resourceGroups/${group}/providers/${module}/${kind}/${physicalName}`;
}

function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply(resolve));
}

/** The mock engine keeps no record of when every registration settled; Pulumi's own drain does. */
async function waitForRegistrations(): Promise<void> {
  const runtime = pulumi.runtime as unknown as { waitForRPCs?: () => Promise<void> };
  if (typeof runtime.waitForRPCs !== 'function') {
    throw new Error('@pulumi/pulumi no longer exposes runtime.waitForRPCs; the harness must be updated');
  }
  await runtime.waitForRPCs();
}

/** Runs the stack program once with the given project config (`key` means `hs-mlops:key`). */
export async function runStack(projectConfig: Record<string, string> = {}): Promise<StackRun> {
  const recorded: Omit<RecordedResource, 'urn'>[] = [];
  const calls: RecordedCall[] = [];
  const settled: string[] = [];
  await pulumi.runtime.setMocks(
    {
      async newResource(args) {
        const inputs = args.inputs as Record<string, any>;
        const physicalName = physicalNameOf(args.type, args.name, inputs);
        const id = mockId(args.type, physicalName, inputs);
        recorded.push({ type: args.type, name: args.name, physicalName, id, inputs });
        if (args.type.startsWith(dynamicTypePrefix)) {
          await new Promise((done) => setTimeout(done, dynamicRegistrationDelayMs));
        }
        settled.push(`${args.type} ${args.name}`);
        return {
          id,
          state: { ...inputs, name: physicalName, ...computedState(args.type, physicalName, inputs) },
        };
      },
      call(args) {
        calls.push({
          token: args.token,
          inputs: args.inputs as Record<string, any>,
          registeredBefore: recorded.map((resource) => `${resource.type} ${resource.name}`),
          settledBefore: [...settled],
        });
        if (args.token === 'azure-native:authorization:getClientConfig') {
          return {
            subscriptionId: testSubscriptionId,
            tenantId: testTenantId,
            clientId: 'deployer',
            objectId: testDeployerPrincipalId,
          };
        }
        if (args.token === 'azure-native:web:listWebAppHostKeys') {
          return {
            masterKey: 'master-key',
            functionKeys: { default: 'function-key' },
            systemKeys: { [blobsExtensionKeyName]: testBlobsExtensionKey },
          };
        }
        throw new Error(`unexpected provider call ${args.token}`);
      },
    },
    testProject,
    testStack,
    false,
  );
  // The program refuses to deploy without a zip; a fresh clone has none, so each run gets a stand-in file.
  const standInPackage = join(mkdtempSync(join(tmpdir(), 'stack-package-')), 'hs-mlops.zip');
  writeFileSync(standInPackage, 'stand-in deployment zip');
  const config: Record<string, string> = {
    'azure-native:location': 'westeurope',
    [`${testProject}:deploymentPackagePath`]: standInPackage,
  };
  for (const [key, value] of Object.entries(projectConfig)) config[`${testProject}:${key}`] = value;
  pulumi.runtime.setAllConfig(config);

  const stackOutputs = await main();
  const outputs = Object.fromEntries(
    await Promise.all(
      Object.entries(stackOutputs).map(async ([key, output]) => [key, await valueOf(output)] as const),
    ),
  ) as StackRun['outputs'];
  await waitForRegistrations();

  const monitor = pulumi.runtime.getMonitor();
  if (!(monitor instanceof MockMonitor)) throw new Error('Pulumi mocks are not installed');
  const urns = [...monitor.resources.keys()];
  const resources = recorded.map((resource) => {
    const urn =
      urns.find((candidate) => candidate.endsWith(`$${resource.type}::${resource.name}`)) ??
      urns.find((candidate) => candidate.endsWith(`::${resource.type}::${resource.name}`));
    if (urn === undefined) throw new Error(`no URN recorded for ${resource.type} ${resource.name}`);
    return { ...resource, urn };
  });
  return { resources, calls, outputs };
}

/** Resources of one type; fails when there are none, so a filter typo cannot make a test vacuous. */
export function ofType(run: StackRun, type: string): RecordedResource[] {
  const found = run.resources.filter((resource) => resource.type === `azure-native:${type}`);
  if (found.length === 0) throw new Error(`no resources of type azure-native:${type}`);
  return found;
}

/** Dynamic resources of one type name (e.g. `FlexPackageUpload`); fails when there are none. */
export function dynamicOfType(run: StackRun, typeName: string): RecordedResource[] {
  const found = run.resources.filter((resource) => resource.type === `${dynamicTypePrefix}${typeName}`);
  if (found.length === 0) throw new Error(`no dynamic resources of type ${typeName}`);
  return found;
}

/** The single resource of a type with the given physical name. */
export function named(run: StackRun, type: string, physicalName: string): RecordedResource {
  const matches = ofType(run, type).filter((resource) => resource.physicalName === physicalName);
  if (matches.length !== 1) {
    throw new Error(`expected one ${type} named ${physicalName}, found ${matches.length}`);
  }
  return matches[0]!;
}
