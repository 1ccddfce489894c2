import type { ListWebAppHostKeysResult } from '@pulumi/azure-native/web';
import { specialSecretSig, specialSigKey } from '@pulumi/pulumi/runtime/rpc';
import {
  blobCreatedSubjectFilter,
  blobsExtensionKeyOf,
  blobsWebhookUrl,
} from '../../../infra/components/blobEvents';
import { hostWarmUpType, packageUploadType } from '../../../infra/components/deploymentPackage';
import { builtInRoleIds } from '../../../infra/roles';
import { appSettingNames } from '../../../infra/settings';
import { loadConfig } from '../../../shared/config';
import { BLOB_TRIGGERS } from '../../../shared/platform/blob-triggers';
import {
  dynamicOfType,
  named,
  ofType,
  runStack,
  testBlobsExtensionKey,
  testEventGridPrincipalId,
  testSubscriptionId,
  type RecordedResource,
  type StackRun,
} from './harness';

let run: StackRun;

beforeAll(async () => {
  run = await runStack();
});

/** A value the engine received as a secret: the mock sees it wrapped in Pulumi's secret signature. */
function unwrapSecret(value: unknown): unknown {
  if (typeof value === 'object' && value !== null && specialSigKey in value) {
    const wrapped = value as Record<string, unknown>;
    expect(wrapped[specialSigKey]).toBe(specialSecretSig);
    return wrapped.value;
  }
  throw new Error(`expected a secret, got ${JSON.stringify(value)}`);
}

/** Every string anywhere in a value, with whether a secret wrapper encloses it. */
function stringsWithSecrecy(value: unknown, secret = false): { text: string; secret: boolean }[] {
  if (typeof value === 'string') return [{ text: value, secret }];
  if (Array.isArray(value)) return value.flatMap((item) => stringsWithSecrecy(item, secret));
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const isSecret = record[specialSigKey] === specialSecretSig;
    return Object.values(record).flatMap((item) => stringsWithSecrecy(item, secret || isSecret));
  }
  return [];
}

function subscriptionFor(functionName: string): RecordedResource {
  return named(run, 'eventgrid:SystemTopicEventSubscription', functionName);
}

describe('Event Grid delivery of blob events to the blob triggers', () => {
  it('sets BLOB_TRIGGER_SOURCE=EventGrid, which the app loads as the Event Grid source', () => {
    const [app] = ofType(run, 'web:WebApp');
    const settings = new Map(
      (app!.inputs.siteConfig.appSettings as { name: string; value: string }[]).map((s) => [s.name, s.value]),
    );
    expect(appSettingNames.blobTriggerSource).toBe('BLOB_TRIGGER_SOURCE');
    expect(settings.get('BLOB_TRIGGER_SOURCE')).toBe('EventGrid');
    expect(loadConfig(Object.fromEntries(settings)).blobTriggerSource).toBe('EventGrid');
  });

  it('creates one system topic whose source is the data storage account', () => {
    const topics = ofType(run, 'eventgrid:SystemTopic');
    expect(topics).toHaveLength(1);
    const data = named(run, 'storage:StorageAccount', run.outputs.dataStorageAccountName);
    expect(topics[0]!.inputs).toMatchObject({
      source: data.id,
      topicType: 'Microsoft.Storage.StorageAccounts',
      location: 'westeurope',
      identity: { type: 'SystemAssigned' },
    });
    expect(topics[0]!.urn).toContain('::hsmlops:infra:BlobEvents$azure-native:eventgrid:SystemTopic::');
    const [component] = run.resources.filter((resource) => resource.type === 'hsmlops:infra:BlobEvents');
    expect(component!.urn).toContain('::hsmlops:infra:Platform$hsmlops:infra:BlobEvents::');
  });

  it('subscribes each blob-triggered function, and nothing else, with filters matching its trigger path', () => {
    const subscriptions = ofType(run, 'eventgrid:SystemTopicEventSubscription');
    const topic = ofType(run, 'eventgrid:SystemTopic')[0]!;
    expect(subscriptions.map((s) => s.physicalName).sort()).toEqual(['ingestUpload', 'retrainOnDataset']);
    for (const subscription of subscriptions) {
      expect(subscription.inputs.systemTopicName).toBe(topic.physicalName);
      expect(subscription.inputs.eventDeliverySchema).toBe('EventGridSchema');
      expect(subscription.inputs.filter.includedEventTypes).toEqual(['Microsoft.Storage.BlobCreated']);
      expect(subscription.inputs.filter.isSubjectCaseSensitive).toBe(true);
    }
    expect(subscriptionFor('ingestUpload').inputs.filter).toMatchObject({
      subjectBeginsWith: '/blobServices/default/containers/incoming/blobs/',
    });
    expect(subscriptionFor('ingestUpload').inputs.filter.subjectEndsWith).toBeUndefined();
    expect(subscriptionFor('retrainOnDataset').inputs.filter).toMatchObject({
      subjectBeginsWith: '/blobServices/default/containers/datasets/blobs/',
      subjectEndsWith: '/manifest.json',
    });
  });

  it("delivers to the host's blobs webhook for the function, with the blobs_extension key", () => {
    const [app] = ofType(run, 'web:WebApp');
    for (const functionName of ['ingestUpload', 'retrainOnDataset']) {
      const destination = unwrapSecret(subscriptionFor(functionName).inputs.destination) as Record<
        string,
        string
      >;
      expect(destination.endpointType).toBe('WebHook');
      const url = new URL(destination.endpointUrl!);
      expect(url.origin).toBe(`https://${app!.physicalName}.azurewebsites.net`);
      expect(url.pathname).toBe('/runtime/webhooks/blobs');
      expect(url.searchParams.get('functionName')).toBe(`Host.Functions.${functionName}`);
      expect(url.searchParams.get('code')).toBe(testBlobsExtensionKey);
    }
    const keyReads = run.calls.filter((call) => call.token === 'azure-native:web:listWebAppHostKeys');
    expect(keyReads.length).toBeGreaterThan(0);
    for (const read of keyReads) {
      expect(read.inputs).toEqual({ name: app!.physicalName, resourceGroupName: 'rg-hsmlops-unit' });
    }
  });

  it('reads the host keys only once the app, its code and its storage roles are in place', () => {
    const keyReads = run.calls.filter((call) => call.token === 'azure-native:web:listWebAppHostKeys');
    const mustPrecede = [
      ...ofType(run, 'web:WebApp'),
      ...dynamicOfType(run, packageUploadType),
      ...ofType(run, 'authorization:RoleAssignment').filter(
        (assignment) => assignment.inputs.principalId !== testEventGridPrincipalId,
      ),
    ].map((resource) => `${resource.type} ${resource.name}`);
    expect(mustPrecede.length).toBeGreaterThan(6);
    for (const read of keyReads) expect(read.registeredBefore).toEqual(expect.arrayContaining(mustPrecede));
  });

  it('reads the host keys, and subscribes, only after the warm-up saw the host answer', () => {
    const [warmUp] = dynamicOfType(run, hostWarmUpType);
    const warmUpName = `${warmUp!.type} ${warmUp!.name}`;
    const keyReads = run.calls.filter((call) => call.token === 'azure-native:web:listWebAppHostKeys');
    expect(keyReads.length).toBeGreaterThan(0);
    // The mock answers dynamic resources late: a read that did not wait would run before this one settled.
    for (const read of keyReads) expect(read.settledBefore).toContain(warmUpName);
    const subscriptions = ofType(run, 'eventgrid:SystemTopicEventSubscription');
    const order = run.resources.map((resource) => `${resource.type} ${resource.name}`);
    for (const subscription of subscriptions) {
      expect(order.indexOf(`${subscription.type} ${subscription.name}`)).toBeGreaterThan(
        order.indexOf(warmUpName),
      );
    }
  });

  it('keeps the key secret: only inside secret values, never in outputs', () => {
    const exposures = run.resources.flatMap((resource) =>
      stringsWithSecrecy(resource.inputs)
        .filter(({ text, secret }) => text.includes(encodeURIComponent(testBlobsExtensionKey)) && !secret)
        .map(() => `${resource.type} ${resource.name}`),
    );
    expect(exposures).toEqual([]);
    const carriers = run.resources.filter((resource) =>
      stringsWithSecrecy(resource.inputs).some(({ text }) =>
        text.includes(encodeURIComponent(testBlobsExtensionKey)),
      ),
    );
    expect(carriers.map((resource) => resource.physicalName).sort()).toEqual([
      'ingestUpload',
      'retrainOnDataset',
    ]);
    for (const value of Object.values(run.outputs)) expect(value).not.toContain('blobs-key');
  });

  it('retries for a day, then dead-letters into a host-account container the topic alone may write', () => {
    const host = named(run, 'storage:StorageAccount', run.outputs.hostStorageAccountName);
    const container = named(run, 'storage:BlobContainer', 'blob-events-deadletter');
    expect(container.inputs.accountName).toBe(run.outputs.hostStorageAccountName);
    expect(container.inputs.publicAccess).toBe('None');
    for (const subscription of ofType(run, 'eventgrid:SystemTopicEventSubscription')) {
      expect(subscription.inputs.retryPolicy).toEqual({
        maxDeliveryAttempts: 30,
        eventTimeToLiveInMinutes: 1440,
      });
      expect(subscription.inputs.deadLetterWithResourceIdentity).toEqual({
        identity: { type: 'SystemAssigned' },
        deadLetterDestination: {
          endpointType: 'StorageBlob',
          resourceId: host.id,
          blobContainerName: 'blob-events-deadletter',
        },
      });
    }
    const topicGrants = ofType(run, 'authorization:RoleAssignment').filter(
      (assignment) => assignment.inputs.principalId === testEventGridPrincipalId,
    );
    expect(
      topicGrants.map((grant): unknown[] => [grant.inputs.scope, grant.inputs.roleDefinitionId]),
    ).toEqual([
      [
        `${host.id}/blobServices/default/containers/blob-events-deadletter`,
        `/subscriptions/${testSubscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${builtInRoleIds.storageBlobDataContributor}`,
      ],
    ]);
    expect(topicGrants[0]!.inputs.principalType).toBe('ServicePrincipal');
  });
});

describe('blobCreatedSubjectFilter', () => {
  it('derives prefix and suffix from the fixed parts of the trigger path', () => {
    expect(blobCreatedSubjectFilter(BLOB_TRIGGERS.ingestUpload)).toEqual({
      subjectBeginsWith: '/blobServices/default/containers/incoming/blobs/',
    });
    expect(blobCreatedSubjectFilter(BLOB_TRIGGERS.retrainOnDataset)).toEqual({
      subjectBeginsWith: '/blobServices/default/containers/datasets/blobs/',
      subjectEndsWith: '/manifest.json',
    });
    expect(
      blobCreatedSubjectFilter({
        functionName: 'f',
        container: 'reports',
        blobPath: 'drift-{day}/{name}.json',
      }),
    ).toEqual({
      subjectBeginsWith: '/blobServices/default/containers/reports/blobs/drift-',
      subjectEndsWith: '.json',
    });
  });

  it('refuses paths Event Grid cannot filter as the host matches them', () => {
    expect(() =>
      blobCreatedSubjectFilter({ functionName: 'f', container: 'incoming', blobPath: '%FOLDER%/{name}' }),
    ).toThrow(/f: %setting% expressions/);
    expect(() =>
      blobCreatedSubjectFilter({ functionName: 'g', container: 'incoming', blobPath: 'fixed.csv' }),
    ).toThrow(/g: blob path 'fixed.csv' names no \{parameter\}/);
  });
});

describe('blobs webhook URL and key', () => {
  it('addresses Host.Functions.<name> and escapes the key', () => {
    expect(blobsWebhookUrl('app.azurewebsites.net', 'ingestUpload', 'a/b+c==')).toBe(
      'https://app.azurewebsites.net/runtime/webhooks/blobs?functionName=Host.Functions.ingestUpload&code=a%2Fb%2Bc%3D%3D',
    );
  });

  it('takes the blobs_extension system key and says what to do when the host has not made it yet', () => {
    expect(blobsExtensionKeyOf({ systemKeys: { blobs_extension: 'k1', other: 'k2' } }, 'app')).toBe('k1');
    const withoutKey: ListWebAppHostKeysResult[] = [
      {},
      { systemKeys: {} },
      { systemKeys: { blobs_extension: '' } },
    ];
    for (const keys of withoutKey) {
      expect(() => blobsExtensionKeyOf(keys, 'my-app')).toThrow(
        /Function App my-app has no 'blobs_extension' system key yet[\s\S]*run `pulumi up` again/,
      );
    }
  });
});
