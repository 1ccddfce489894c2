import * as authorization from '@pulumi/azure-native/authorization';
import * as eventgrid from '@pulumi/azure-native/eventgrid';
import * as storage from '@pulumi/azure-native/storage';
import * as web from '@pulumi/azure-native/web';
import * as pulumi from '@pulumi/pulumi';
import type { BlobTriggerSpec } from '../../shared/platform/blob-triggers';
import { deterministicGuid } from '../naming';
import { builtInRoleIds, roleDefinitionResourceId } from '../roles';

/** Event Grid's topic type for a storage account's own events. */
export const storageTopicType = 'Microsoft.Storage.StorageAccounts';
/** The one event a blob trigger reacts to: a blob was created or replaced (Put Blob, Put Block List, copy). */
export const blobCreatedEventType = 'Microsoft.Storage.BlobCreated';
/** The Functions host's system key that authorises calls to its blobs-extension webhook. */
export const blobsExtensionKeyName = 'blobs_extension';

/** How long and how often Event Grid retries a delivery the app did not accept. */
export interface BlobEventRetry {
  /** Delivery attempts before the event is dead-lettered (1-30). Default 30. */
  readonly maxDeliveryAttempts?: number;
  /** Minutes an undelivered event is retried (1-1440). Default 1440: a day spans a cold start, a deployment
   * and an outage of the app, and a failed ingestion is worse late than lost. */
  readonly eventTimeToLiveInMinutes?: number;
}

/** Where undelivered events are kept: a container the topic's own managed identity writes to. */
export interface BlobEventDeadLetter {
  readonly resourceGroupName: pulumi.Input<string>;
  /** Account of the dead-letter container (the host account: Functions bookkeeping, not product data). */
  readonly accountName: pulumi.Input<string>;
  readonly accountId: pulumi.Input<string>;
  /** Container created for dead-lettered events. Default `blob-events-deadletter`. */
  readonly containerName?: string;
}

export interface BlobEventsArgs {
  readonly resourceGroupName: pulumi.Input<string>;
  /** Region of the system topic; it must be the data account's region. */
  readonly location: pulumi.Input<string>;
  /** Name of the Event Grid system topic (one per storage account). */
  readonly systemTopicName: pulumi.Input<string>;
  /** Resource id of the data storage account whose blob events the triggers react to. */
  readonly dataStorageAccountId: pulumi.Input<string>;
  /** The Function App whose `blobs_extension` webhook receives the events. */
  readonly functionAppName: pulumi.Input<string>;
  /** Its default host name (`<app>.azurewebsites.net`). */
  readonly functionAppHostName: pulumi.Input<string>;
  /** The blob-triggered functions, each subscribed with filters derived from its trigger path. */
  readonly triggers: readonly BlobTriggerSpec[];
  /**
   * Resources that must exist before the app's host can start and its keys are read: the Function App, its
   * deployed code, and its access to host storage (where the host keeps its keys). The host creates the
   * `blobs_extension` key only once it has loaded an EventGrid-source blob trigger.
   */
  readonly hostReadyAfter: readonly pulumi.Resource[];
  /** Subscription of the stack; role definition ids are subscription-scoped. */
  readonly subscriptionId: pulumi.Input<string>;
  /** Retry policy of every subscription. Defaults as documented on `BlobEventRetry`. */
  readonly retry?: BlobEventRetry;
  readonly deadLetter: BlobEventDeadLetter;
}

/** Event Grid's subject of a blob in the storage account's default blob service. */
function blobSubjectPrefix(container: string): string {
  return `/blobServices/default/containers/${container}/blobs/`;
}

export interface SubjectFilter {
  readonly subjectBeginsWith: string;
  /** Absent when the trigger path ends in a binding parameter (any blob name). */
  readonly subjectEndsWith?: string;
}

/**
 * The subject filter that selects the events of one trigger path: everything before the first `{param}` is a
 * fixed prefix, everything after the last one a fixed suffix. The host matches the full path again when the
 * event arrives, so the filter only has to keep other containers' and other files' events away.
 */
export function blobCreatedSubjectFilter(spec: BlobTriggerSpec): SubjectFilter {
  if (spec.blobPath.includes('%')) {
    throw new Error(
      `${spec.functionName}: %setting% expressions cannot be resolved into an Event Grid filter`,
    );
  }
  const firstParameter = spec.blobPath.indexOf('{');
  const lastParameterEnd = spec.blobPath.lastIndexOf('}');
  if (firstParameter < 0 || lastParameterEnd < firstParameter) {
    throw new Error(`${spec.functionName}: blob path '${spec.blobPath}' names no {parameter}`);
  }
  const suffix = spec.blobPath.slice(lastParameterEnd + 1);
  return {
    subjectBeginsWith: blobSubjectPrefix(spec.container) + spec.blobPath.slice(0, firstParameter),
    ...(suffix === '' ? {} : { subjectEndsWith: suffix }),
  };
}

/** The host's blob-trigger webhook for one function, authorised with the `blobs_extension` system key. */
export function blobsWebhookUrl(hostName: string, functionName: string, blobsExtensionKey: string): string {
  const query = new URLSearchParams({
    functionName: `Host.Functions.${functionName}`,
    code: blobsExtensionKey,
  });
  return `https://${hostName}/runtime/webhooks/blobs?${query.toString()}`;
}

/**
 * The `blobs_extension` key from the host's keys. A missing key is an error that says what to do: guessing a
 * URL without it would create subscriptions whose validation handshake the host rejects.
 */
export function blobsExtensionKeyOf(keys: web.ListWebAppHostKeysResult, appName: string): string {
  const key = keys.systemKeys?.[blobsExtensionKeyName];
  if (key === undefined || key === '') {
    throw new Error(
      `Function App ${appName} has no '${blobsExtensionKeyName}' system key yet: the host creates it when it ` +
        'first starts with an EventGrid-source blob trigger. Call the app once (GET /api/health) and run ' +
        '`pulumi up` again.',
    );
  }
  return key;
}

/**
 * Delivery of the data account's BlobCreated events to the app's blob triggers: on Flex Consumption a blob
 * trigger runs only with `source: 'EventGrid'`, and nothing calls it unless an Event Grid subscription does.
 * One system topic on the data account, one subscription per blob-triggered function (webhook with the host's
 * `blobs_extension` key, subject filters from the trigger path), retried for a day and then dead-lettered into
 * a container the topic's managed identity may write to.
 */
export class BlobEvents extends pulumi.ComponentResource {
  public readonly systemTopic: eventgrid.SystemTopic;
  public readonly subscriptions: eventgrid.SystemTopicEventSubscription[];
  public readonly deadLetterContainer: storage.BlobContainer;

  constructor(name: string, args: BlobEventsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('hsmlops:infra:BlobEvents', name, {}, opts);

    // Why: a system topic is how a storage account publishes its own events; Azure allows one per account, so
    // every blob trigger subscribes to this one.
    this.systemTopic = new eventgrid.SystemTopic(
      `${name}-topic`,
      {
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        systemTopicName: args.systemTopicName,
        source: args.dataStorageAccountId,
        topicType: storageTopicType,
        // Why: dead-lettering with the topic's own identity; the accounts refuse shared keys.
        identity: { type: eventgrid.IdentityType.SystemAssigned },
      },
      { parent: this },
    );
    const topicPrincipalId = this.systemTopic.identity.apply((identity) => {
      if (identity?.principalId === undefined) {
        throw new Error(`Event Grid system topic ${name} has no system-assigned identity principal`);
      }
      return identity.principalId;
    });

    const deadLetterContainerName = args.deadLetter.containerName ?? 'blob-events-deadletter';
    this.deadLetterContainer = new storage.BlobContainer(
      `${name}-deadletter`,
      {
        resourceGroupName: args.deadLetter.resourceGroupName,
        accountName: args.deadLetter.accountName,
        containerName: deadLetterContainerName,
        publicAccess: storage.PublicAccess.None,
      },
      { parent: this },
    );
    const deadLetterScope = pulumi.interpolate`${args.deadLetter.accountId}/blobServices/default/containers/${deadLetterContainerName}`;
    // Why: Event Grid writes dead letters with the topic's identity; Contributor on this one container is all it
    // needs, and nothing else in the account is reachable with it.
    const deadLetterWriter = new authorization.RoleAssignment(
      `${name}-deadletter-writer`,
      {
        roleAssignmentName: pulumi
          .all([deadLetterScope, topicPrincipalId])
          .apply(([scope, principalId]) =>
            deterministicGuid(scope, principalId, builtInRoleIds.storageBlobDataContributor),
          ),
        scope: deadLetterScope,
        principalId: topicPrincipalId,
        principalType: authorization.PrincipalType.ServicePrincipal,
        roleDefinitionId: pulumi
          .output(args.subscriptionId)
          .apply((subscriptionId) =>
            roleDefinitionResourceId(subscriptionId, builtInRoleIds.storageBlobDataContributor),
          ),
      },
      { parent: this, dependsOn: [this.deadLetterContainer] },
    );

    // Why: the key exists only after the code is deployed and the host has started with an EventGrid-source
    // blob trigger, so the read waits for the deployment; a missing key stops the update with what to do.
    const hostKeys = web.listWebAppHostKeysOutput(
      { name: args.functionAppName, resourceGroupName: args.resourceGroupName },
      { parent: this, dependsOn: [...args.hostReadyAfter] },
    );
    const blobsExtensionKey = pulumi.secret(
      pulumi
        .all([hostKeys, args.functionAppName])
        .apply(([keys, appName]) => blobsExtensionKeyOf(keys, appName)),
    );

    const retry = {
      maxDeliveryAttempts: args.retry?.maxDeliveryAttempts ?? 30,
      eventTimeToLiveInMinutes: args.retry?.eventTimeToLiveInMinutes ?? 1440,
    };
    this.subscriptions = args.triggers.map((trigger) => {
      const filter = blobCreatedSubjectFilter(trigger);
      return new eventgrid.SystemTopicEventSubscription(
        `${name}-${trigger.functionName}`,
        {
          resourceGroupName: args.resourceGroupName,
          systemTopicName: this.systemTopic.name,
          eventSubscriptionName: trigger.functionName,
          eventDeliverySchema: eventgrid.EventDeliverySchema.EventGridSchema,
          destination: {
            endpointType: 'WebHook',
            // Why: secret, so neither the state nor any output shows the key in clear text.
            endpointUrl: pulumi.secret(
              pulumi
                .all([args.functionAppHostName, blobsExtensionKey])
                .apply(([hostName, key]) => blobsWebhookUrl(hostName, trigger.functionName, key)),
            ),
          },
          filter: {
            includedEventTypes: [blobCreatedEventType],
            ...filter,
            // Why: blob names are case-sensitive, and so is the trigger's path match.
            isSubjectCaseSensitive: true,
          },
          retryPolicy: retry,
          deadLetterWithResourceIdentity: {
            identity: { type: eventgrid.EventSubscriptionIdentityType.SystemAssigned },
            deadLetterDestination: {
              endpointType: 'StorageBlob',
              resourceId: args.deadLetter.accountId,
              blobContainerName: deadLetterContainerName,
            },
          },
        },
        // Why: creating a subscription runs Event Grid's validation handshake against the webhook, and a
        // dead letter written before the role assignment would be lost.
        { parent: this, dependsOn: [deadLetterWriter, ...args.hostReadyAfter] },
      );
    });

    this.registerOutputs({
      systemTopicId: this.systemTopic.id,
      subscriptionIds: this.subscriptions.map((subscription) => subscription.id),
    });
  }
}
