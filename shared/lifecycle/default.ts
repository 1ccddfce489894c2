/** The experiment runner on the process-wide clients. Service Bus is required: decisions must be announced. */
import { feedbackServiceFor } from '../feedback/default';
import { getPlatformClients, type PlatformClients } from '../platform/clients';
import { COSMOS_CONTAINERS } from '../platform/resources';
import { registryFor } from '../registry/default';
import { serviceBusLifecycleEvents, type LifecycleEvents } from './events';
import { ExperimentRunner } from './experiments';

let shared: { clients: PlatformClients; runner: ExperimentRunner; events: LifecycleEvents } | undefined;

function build(clients: PlatformClients): NonNullable<typeof shared> {
  const events = serviceBusLifecycleEvents(clients.serviceBus());
  const runner = new ExperimentRunner({
    experiments: clients.database.container(COSMOS_CONTAINERS.experiments.id),
    predictions: clients.database.container(COSMOS_CONTAINERS.predictions.id),
    registry: registryFor(clients),
    feedback: feedbackServiceFor(clients),
    events,
  });
  return { clients, runner, events };
}

export function getExperimentRunner(): ExperimentRunner {
  const clients = getPlatformClients();
  if (shared?.clients !== clients) shared = build(clients);
  return shared.runner;
}

export function getLifecycleEvents(): LifecycleEvents {
  const clients = getPlatformClients();
  if (shared?.clients !== clients) shared = build(clients);
  return shared.events;
}
