import {
  app,
  type HttpRequest,
  type HttpResponseInit,
  type InvocationContext,
  type Timer,
} from '@azure/functions';
import * as df from 'durable-functions';
import { getPlatformClients } from '../shared/platform/clients';
import { BLOB_CONTAINERS, COSMOS_CONTAINERS } from '../shared/platform/resources';
import { getMonitoringConfig } from '../shared/config';
import {
  cosmosAlertStore,
  cosmosPredictionSource,
  packageReferenceSource,
  runMonitoring,
  type ReferenceSource,
} from '../shared/monitoring/monitor';
import { durableRetrainingTrigger } from '../shared/pipelines/retraining';

const durableClientInput = df.input.durableClient();

let references: ReferenceSource | undefined;

/** Model packages are immutable, so their references are cached for the life of the instance. */
function referenceSource(): ReferenceSource {
  references ??= packageReferenceSource(
    getPlatformClients().dataBlobs.getContainerClient(BLOB_CONTAINERS.models),
  );
  return references;
}

/** Drift and SLO checks over the recent window of predictions; drift starts a (debounced) retraining. */
export async function monitorTimer(timer: Timer, context: InvocationContext): Promise<void> {
  const database = getPlatformClients().database;
  const result = await runMonitoring(new Date(), getMonitoringConfig(), {
    predictions: cosmosPredictionSource(database.container(COSMOS_CONTAINERS.predictions.id)),
    references: referenceSource(),
    alerts: cosmosAlertStore(database.container(COSMOS_CONTAINERS.alerts.id)),
    retraining: durableRetrainingTrigger(df.getClient(context)),
    log: (level, message) => (level === 'warning' ? context.warn(message) : context.log(message)),
  });
  const summary = result.models.map(
    (model) => `${model.modelVersion}: ${model.status} (${model.predictions})`,
  );
  context.log(
    `monitoring ${result.window.start}..${result.window.end}${timer.isPastDue ? ' (past due)' : ''}: ` +
      `${result.window.predictions} predictions; ${summary.join('; ') || 'no models'}`,
  );
}

const MAX_LIMIT = 200;

/** `GET /api/alerts?limit=20&hours=168`: the most recent alerts, newest first. */
export async function listAlerts(request: HttpRequest): Promise<HttpResponseInit> {
  const limit = Number(request.query.get('limit') ?? '20');
  const hours = Number(request.query.get('hours') ?? '168');
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    return { status: 400, jsonBody: { error: `limit: an integer in [1, ${MAX_LIMIT}]` } };
  }
  if (!Number.isFinite(hours) || hours <= 0) {
    return { status: 400, jsonBody: { error: 'hours: a positive number' } };
  }
  const store = cosmosAlertStore(getPlatformClients().database.container(COSMOS_CONTAINERS.alerts.id));
  const alerts = await store.recent(new Date(Date.now() - hours * 3_600_000), limit);
  return { status: 200, jsonBody: { alerts }, headers: { 'cache-control': 'no-store' } };
}

app.timer('monitor', {
  // Read at registration: a missing MONITOR_SCHEDULE means the documented default, not a host error.
  schedule: getMonitoringConfig().schedule,
  extraInputs: [durableClientInput],
  handler: monitorTimer,
});

app.http('alerts', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'alerts',
  handler: listAlerts,
});
