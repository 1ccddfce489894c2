/**
 * Starting the retraining orchestration from outside its own function file: the monitoring timer (drift) and the
 * retraining schedule both go through here, so instance ids and the one-at-a-time rule are defined once.
 */
import { OrchestrationRuntimeStatus, type DurableClient } from 'durable-functions';
import type { RetrainingReason, RetrainingTrigger } from '../monitoring/monitor';
import type { PipelineTrigger } from './records';
import { startOnce, type StartOnceResult } from './starter';

/** The orchestrator's registered name (functions/retrain.ts registers it under this name). */
export const RETRAIN_ORCHESTRATOR = 'retrainOrchestrator';

/** Seed of a pipeline started without settings; `DEFAULT_RETRAIN_SETTINGS.seed` in functions/retrain.ts. */
export const DEFAULT_PIPELINE_SEED = 1;

/** What every start of the orchestration carries; HTTP starts add settings (functions/retrain.ts). */
export interface RetrainStart {
  readonly trigger: PipelineTrigger;
  /** Default: the newest dataset version, resolved when the pipeline prepares. */
  readonly datasetVersion?: string;
}

function idPart(text: string, length: number): string {
  return text.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, length);
}

/** Instance ids are also model-version prefixes: [A-Za-z0-9._-] only. */
export function pipelineIdFor(datasetVersion: string | undefined, seed: number, suffix?: string): string {
  const base = `retrain-${idPart(datasetVersion ?? 'latest', 40)}-s${seed}`;
  return suffix === undefined ? base : `${base}-${suffix}`;
}

/** Starts a pipeline unless the instance already exists. */
export async function startRetraining(
  client: DurableClient,
  instanceId: string,
  input: RetrainStart,
): Promise<StartOnceResult> {
  return startOnce(client, RETRAIN_ORCHESTRATOR, instanceId, input);
}

/**
 * True while any retraining orchestration is pending or running, whatever started it: the debounce of drift and
 * scheduled retraining. Asked of Durable rather than of the pipeline records, because a just-started instance has
 * no record until its first activity has run, and a terminated one never closes its record.
 */
export async function isRetrainingRunning(client: DurableClient): Promise<boolean> {
  const active = await client.getStatusBy({
    runtimeStatus: [OrchestrationRuntimeStatus.Pending, OrchestrationRuntimeStatus.Running],
  });
  return active.some((instance) => instance.name === RETRAIN_ORCHESTRATOR);
}

/** The monitoring timer's way to start retraining: at most one pipeline running at a time. */
export function durableRetrainingTrigger(client: DurableClient): RetrainingTrigger {
  return {
    isRunning: () => isRetrainingRunning(client),
    start: async (reason: RetrainingReason) => {
      const instanceId = pipelineIdFor(
        undefined,
        DEFAULT_PIPELINE_SEED,
        idPart(`drift-${reason.alertId}`, 60),
      );
      await startRetraining(client, instanceId, {
        trigger: { source: 'drift', ref: reason.alertId, reason: reason.summary },
      });
      return instanceId;
    },
  };
}

export type ScheduledRetrainingOutcome =
  | { readonly action: 'started' | 'exists'; readonly instanceId: string; readonly datasetVersion: string }
  | { readonly action: 'already-running' }
  | { readonly action: 'no-dataset' };

export interface ScheduledRetrainingDependencies {
  readonly isRunning: () => Promise<boolean>;
  /** The newest dataset version, or undefined when there is none. */
  readonly latestDatasetVersion: () => Promise<string | undefined>;
  readonly start: (instanceId: string, input: RetrainStart) => Promise<StartOnceResult>;
}

/**
 * One occurrence of the retraining schedule: retrains on the newest dataset version unless a pipeline is running
 * (whatever started it). The instance id names the occurrence to the minute, so a timer delivered twice for one
 * occurrence starts one pipeline.
 */
export async function runScheduledRetraining(
  occurrence: Date,
  dependencies: ScheduledRetrainingDependencies,
): Promise<ScheduledRetrainingOutcome> {
  if (await dependencies.isRunning()) return { action: 'already-running' };
  const datasetVersion = await dependencies.latestDatasetVersion();
  if (datasetVersion === undefined) return { action: 'no-dataset' };
  const minute = occurrence.toISOString().slice(0, 16).replace(/[-:T]/g, '');
  const instanceId = pipelineIdFor(datasetVersion, DEFAULT_PIPELINE_SEED, `schedule-${minute}`);
  const started = await dependencies.start(instanceId, {
    trigger: { source: 'schedule', ref: occurrence.toISOString(), reason: 'scheduled retraining' },
    datasetVersion,
  });
  return { action: started.started ? 'started' : 'exists', instanceId, datasetVersion };
}
