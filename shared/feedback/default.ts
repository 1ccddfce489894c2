/** The feedback service on the process-wide clients, for function handlers. */
import { getPlatformClients, type PlatformClients } from '../platform/clients';
import { COSMOS_CONTAINERS } from '../platform/resources';
import { FeedbackService } from './feedback';

export function feedbackServiceFor(clients: PlatformClients): FeedbackService {
  return new FeedbackService({
    feedback: clients.database.container(COSMOS_CONTAINERS.feedback.id),
    predictions: clients.database.container(COSMOS_CONTAINERS.predictions.id),
  });
}

let shared: { clients: PlatformClients; service: FeedbackService } | undefined;

export function getFeedbackService(): FeedbackService {
  const clients = getPlatformClients();
  if (shared?.clients !== clients) shared = { clients, service: feedbackServiceFor(clients) };
  return shared.service;
}
