/**
 * Lifecycle events on the Service Bus topic `lifecycle-events`: experiment started / checked / stale, model
 * promoted / rejected / rolled back. Subscribers (notifications, dashboards, the serving side's cache
 * invalidation) get them without polling the registry.
 */
import type { ServiceBusClient } from '@azure/service-bus';
import { SERVICE_BUS_ENTITIES } from '../platform/resources';

export const LIFECYCLE_EVENTS_TOPIC = SERVICE_BUS_ENTITIES.lifecycleTopic;

export type LifecycleEventType =
  | 'experiment.started'
  | 'experiment.checked'
  | 'experiment.stale'
  | 'model.promoted'
  | 'model.rejected'
  | 'model.rolled-back';

export interface LifecycleEvent {
  readonly type: LifecycleEventType;
  readonly at: string;
  readonly experimentId: string | null;
  /** The champion after the event. */
  readonly champion: string | null;
  readonly challenger: string | null;
  readonly details: Readonly<Record<string, unknown>>;
}

export interface LifecycleEvents {
  publish(event: LifecycleEvent): Promise<void>;
}

/** Publishes to the topic; `type` is also an application property so subscriptions can filter on it. */
export function serviceBusLifecycleEvents(
  client: ServiceBusClient,
  topic = LIFECYCLE_EVENTS_TOPIC,
): LifecycleEvents {
  const sender = client.createSender(topic);
  return {
    publish: async (event) => {
      await sender.sendMessages({
        body: event,
        contentType: 'application/json',
        subject: event.type,
        applicationProperties: { type: event.type, experimentId: event.experimentId ?? '' },
      });
    },
  };
}

/** Collects events in memory (tests, and apps without Service Bus: the caller decides, explicitly). */
export function memoryLifecycleEvents(): LifecycleEvents & { readonly events: LifecycleEvent[] } {
  const events: LifecycleEvent[] = [];
  return { events, publish: async (event) => void events.push(event) };
}
