import {
  app,
  type HttpRequest,
  type HttpResponseInit,
  type InvocationContext,
  type Timer,
} from '@azure/functions';
import { getExperimentRunner } from '../shared/lifecycle';

/** Arms, counts, metrics with confidence intervals and the current evidence of one experiment. */
export async function getExperiment(request: HttpRequest): Promise<HttpResponseInit> {
  const id = request.params.id ?? '';
  const runner = getExperimentRunner();
  const found = await runner.get(id);
  if (found === undefined) {
    return { status: 404, jsonBody: { error: { code: 'not-found', message: `no experiment '${id}'` } } };
  }
  const evaluation = await runner.evaluate(found.record);
  return {
    status: 200,
    jsonBody: {
      experiment: found.record,
      wouldDecide: evaluation.action,
      reasons: evaluation.reasons,
      statistics: evaluation.statistics,
    },
    headers: { 'cache-control': 'no-store' },
  };
}

/**
 * Decides every running experiment, after completing any registry move a crash left half done (each repair is
 * logged as a warning). The evidence is always-valid, so deciding every five minutes does not raise the
 * false-promotion rate; a failed experiment is logged and the function fails so the failure is visible.
 */
export async function decideExperiments(_timer: Timer, context: InvocationContext): Promise<void> {
  const { repairs, outcomes, failures } = await getExperimentRunner().decideAll();
  for (const repair of repairs) {
    context.warn(
      `registry ${repair.alias} alias, revision ${repair.revision}: ${
        repair.unverifiable ?? `repaired (${repair.changes.join('; ')})`
      }`,
    );
  }
  for (const outcome of outcomes) {
    context.log(
      `experiment ${outcome.experiment.id}: ${outcome.applied} (${outcome.decision.reasons.join('; ')})`,
    );
  }
  for (const failure of failures) context.error(`experiment ${failure.id}: ${failure.error.message}`);
  if (failures.length > 0) throw new Error(`${failures.length} experiment decision(s) failed`);
}

app.http('getExperiment', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'experiments/{id}',
  handler: getExperiment,
});

app.timer('decideExperiments', {
  schedule: '0 */5 * * * *',
  handler: decideExperiments,
});
