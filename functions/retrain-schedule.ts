/**
 * Scheduled retraining: on `RETRAIN_SCHEDULE` (default weekly; `off` registers nothing) the newest dataset
 * version is retrained, unless a pipeline is already running, as drift-started retraining is debounced.
 */
import { app, type InvocationContext, type Timer } from '@azure/functions';
import * as df from 'durable-functions';
import { getRetrainScheduleConfig } from '../shared/config';
import { listDatasets } from '../shared/datasets/service';
import { isRetrainingRunning, runScheduledRetraining, startRetraining } from '../shared/pipelines/retraining';

export async function retrainScheduleTimer(timer: Timer, context: InvocationContext): Promise<void> {
  const client = df.getClient(context);
  const outcome = await runScheduledRetraining(new Date(), {
    isRunning: () => isRetrainingRunning(client),
    latestDatasetVersion: async () => (await listDatasets())[0]?.version,
    start: (instanceId, input) => startRetraining(client, instanceId, input),
  });
  const pastDue = timer.isPastDue ? ' (past due)' : '';
  switch (outcome.action) {
    case 'started':
      context.log(
        `scheduled retraining${pastDue}: ${outcome.instanceId} started on ${outcome.datasetVersion}`,
      );
      break;
    case 'exists':
      context.log(`scheduled retraining${pastDue}: ${outcome.instanceId} exists; nothing to do`);
      break;
    case 'already-running':
      context.log(`scheduled retraining${pastDue}: a pipeline is running; skipped`);
      break;
    case 'no-dataset':
      context.warn(`scheduled retraining${pastDue}: there is no dataset version to train on; skipped`);
      break;
  }
}

// Read at registration: `off` must leave no timer behind, and a malformed schedule fails the app's start.
const schedule = getRetrainScheduleConfig().schedule;
if (schedule !== null) {
  app.timer('retrainSchedule', {
    schedule,
    extraInputs: [df.input.durableClient()],
    handler: retrainScheduleTimer,
  });
}
