/**
 * `RetrainingTrigger` over Durable Functions: "running" means any instance of the retraining orchestrator that is
 * pending or running, whatever started it (upload, schedule, API or drift), so drift never stacks a second run.
 */
import * as df from 'durable-functions';
import type { DurableClient } from 'durable-functions';
import type { RetrainingReason, RetrainingTrigger } from './monitor';

/**
 * Name the retraining orchestration must be registered under (`df.app.orchestration(RETRAIN_ORCHESTRATOR, ...)`);
 * its input is `{ trigger: 'drift', reason: RetrainingReason }`.
 */
export const RETRAIN_ORCHESTRATOR = 'retrainPipeline';

export function durableRetrainingTrigger(
  client: DurableClient,
  orchestratorName: string = RETRAIN_ORCHESTRATOR,
): RetrainingTrigger {
  return {
    isRunning: async () => {
      const active = await client.getStatusBy({
        runtimeStatus: [df.OrchestrationRuntimeStatus.Pending, df.OrchestrationRuntimeStatus.Running],
      });
      return active.some((instance) => instance.name === orchestratorName);
    },
    start: (reason: RetrainingReason) =>
      client.startNew(orchestratorName, { input: { trigger: 'drift', reason } }),
  };
}
