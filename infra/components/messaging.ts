import * as servicebus from '@pulumi/azure-native/servicebus';
import * as pulumi from '@pulumi/pulumi';

export interface MessagingArgs {
  readonly resourceGroupName: pulumi.Input<string>;
  readonly location: pulumi.Input<string>;
  readonly namespaceName: string;
  /** Queue of ground-truth feedback from integrating systems. */
  readonly feedbackQueueName: string;
  /** Topic of model lifecycle events (registered, promoted, rolled back). */
  readonly lifecycleTopicName: string;
  /** The app's subscription to the lifecycle topic. */
  readonly lifecycleSubscriptionName: string;
  /** Deliveries before a message is dead-lettered. Default 10. */
  readonly maxDeliveryCount?: number;
}

/** Service Bus (Standard, for topics) with local (SAS) auth disabled: senders and receivers use Entra ID. */
export class Messaging extends pulumi.ComponentResource {
  public readonly namespace: servicebus.Namespace;
  public readonly namespaceId: pulumi.Output<string>;
  /** Resource id of the feedback queue: the scope of the app's receive grant. */
  public readonly feedbackQueueId: pulumi.Output<string>;
  /** Resource id of the lifecycle topic: the scope of the app's send grant. */
  public readonly lifecycleTopicId: pulumi.Output<string>;
  /** `<namespace>.servicebus.windows.net`, the value of `ServiceBus__fullyQualifiedNamespace`. */
  public readonly fullyQualifiedNamespace: pulumi.Output<string>;

  constructor(name: string, args: MessagingArgs, opts?: pulumi.ComponentResourceOptions) {
    super('hsmlops:infra:Messaging', name, {}, opts);
    const maxDeliveryCount = args.maxDeliveryCount ?? 10;

    // Why: Standard is the cheapest tier with topics; SAS keys are refused so only managed identities connect.
    this.namespace = new servicebus.Namespace(
      `${name}-namespace`,
      {
        namespaceName: args.namespaceName,
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        sku: { name: servicebus.SkuName.Standard, tier: servicebus.SkuTier.Standard },
        disableLocalAuth: true,
        minimumTlsVersion: servicebus.TlsVersion.TlsVersion_1_2,
      },
      { parent: this },
    );

    // Why: feedback must survive a failing handler; after 10 tries it waits in the dead-letter queue for a human.
    const feedbackQueue = new servicebus.Queue(
      `${name}-${args.feedbackQueueName}`,
      {
        namespaceName: this.namespace.name,
        resourceGroupName: args.resourceGroupName,
        queueName: args.feedbackQueueName,
        deadLetteringOnMessageExpiration: true,
        maxDeliveryCount,
        lockDuration: 'PT1M',
        defaultMessageTimeToLive: 'P14D',
      },
      { parent: this },
    );

    // Why: lifecycle events fan out to any number of listeners (audit, notification) without the sender knowing.
    const topic = new servicebus.Topic(
      `${name}-${args.lifecycleTopicName}`,
      {
        namespaceName: this.namespace.name,
        resourceGroupName: args.resourceGroupName,
        topicName: args.lifecycleTopicName,
        defaultMessageTimeToLive: 'P14D',
      },
      { parent: this },
    );

    // Why: the app's own listener; a topic without a subscription drops every message.
    new servicebus.Subscription(
      `${name}-${args.lifecycleSubscriptionName}`,
      {
        namespaceName: this.namespace.name,
        resourceGroupName: args.resourceGroupName,
        topicName: topic.name,
        subscriptionName: args.lifecycleSubscriptionName,
        deadLetteringOnMessageExpiration: true,
        deadLetteringOnFilterEvaluationExceptions: true,
        maxDeliveryCount,
        lockDuration: 'PT1M',
      },
      { parent: this },
    );

    this.namespaceId = this.namespace.id;
    this.feedbackQueueId = feedbackQueue.id;
    this.lifecycleTopicId = topic.id;
    this.fullyQualifiedNamespace = this.namespace.serviceBusEndpoint.apply(hostOfEndpoint);
    this.registerOutputs({
      namespaceId: this.namespaceId,
      feedbackQueueId: this.feedbackQueueId,
      lifecycleTopicId: this.lifecycleTopicId,
      fullyQualifiedNamespace: this.fullyQualifiedNamespace,
    });
  }
}

/** `https://x.servicebus.windows.net:443/` to `x.servicebus.windows.net` (sovereign clouds differ in suffix). */
export function hostOfEndpoint(endpoint: string): string {
  const host = new URL(endpoint).hostname;
  if (host.length === 0) throw new Error(`Service Bus endpoint '${endpoint}' has no host name`);
  return host;
}
