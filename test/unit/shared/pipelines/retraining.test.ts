import { ConfigError, DEFAULT_RETRAIN_SCHEDULE, loadRetrainScheduleConfig } from '../../../../shared/config';
import type { DurableClient } from 'durable-functions';
import {
  RETRAIN_ORCHESTRATOR,
  isRetrainingRunning,
  pipelineIdFor,
  runScheduledRetraining,
  type RetrainStart,
  type ScheduledRetrainingDependencies,
} from '../../../../shared/pipelines/retraining';
import { startOnce, type StartOnceResult } from '../../../../shared/pipelines/starter';

/** A durable client holding instances in a map: enough of getStatus / startNew for the starter. */
function fakeClient(): { client: DurableClient; started: Map<string, { name: string; input: unknown }> } {
  const started = new Map<string, { name: string; input: unknown }>();
  const client = {
    getStatus: (id: string) => {
      if (!started.has(id)) return Promise.reject(new Error(`DurableClient error: HTTP 404 for ${id}`));
      return Promise.resolve({ runtimeStatus: 'Running' });
    },
    startNew: (name: string, options: { instanceId: string; input: unknown }) => {
      started.set(options.instanceId, { name, input: options.input });
      return Promise.resolve(options.instanceId);
    },
  } as unknown as DurableClient;
  return { client, started };
}

describe('startOnce', () => {
  it('starts an instance once per id and reports the existing one afterwards', async () => {
    const { client, started } = fakeClient();
    expect(await startOnce(client, 'orch', 'id-1', { a: 1 })).toEqual({ instanceId: 'id-1', started: true });
    expect(await startOnce(client, 'orch', 'id-1', { a: 2 })).toEqual({
      instanceId: 'id-1',
      started: false,
      existingStatus: 'Running',
    });
    expect(started.get('id-1')).toEqual({ name: 'orch', input: { a: 1 } });
  });

  it('passes on errors other than "no such instance"', async () => {
    const client = {
      getStatus: () => Promise.reject(new Error('DurableClient error: HTTP 500')),
    } as unknown as DurableClient;
    await expect(startOnce(client, 'orch', 'id', {})).rejects.toThrow('HTTP 500');
  });
});

describe('runScheduledRetraining', () => {
  const occurrence = new Date('2026-12-06T02:00:00.123Z');
  function dependencies(
    overrides: Partial<ScheduledRetrainingDependencies> = {},
  ): ScheduledRetrainingDependencies & { starts: { instanceId: string; input: RetrainStart }[] } {
    const { client } = fakeClient();
    const starts: { instanceId: string; input: RetrainStart }[] = [];
    return {
      isRunning: () => Promise.resolve(false),
      latestDatasetVersion: () => Promise.resolve('ds-0123456789abcdef0123'),
      start: (instanceId, input): Promise<StartOnceResult> => {
        starts.push({ instanceId, input });
        return startOnce(client, RETRAIN_ORCHESTRATOR, instanceId, input);
      },
      starts,
      ...overrides,
    };
  }

  it('retrains the newest dataset version once per occurrence', async () => {
    const deps = dependencies();
    const first = await runScheduledRetraining(occurrence, deps);
    expect(first).toEqual({
      action: 'started',
      instanceId: pipelineIdFor('ds-0123456789abcdef0123', 1, 'schedule-202612060200'),
      datasetVersion: 'ds-0123456789abcdef0123',
    });
    expect(deps.starts[0]!.input).toEqual({
      trigger: { source: 'schedule', ref: occurrence.toISOString(), reason: 'scheduled retraining' },
      datasetVersion: 'ds-0123456789abcdef0123',
    });
    // The same occurrence delivered again (seconds later): the instance exists, nothing new starts.
    const again = await runScheduledRetraining(new Date(occurrence.getTime() + 20_000), deps);
    expect(again).toMatchObject({
      action: 'exists',
      instanceId: first.action === 'started' && first.instanceId,
    });
  });

  it('starts nothing while a pipeline runs, or when there is no dataset', async () => {
    const running = dependencies({ isRunning: () => Promise.resolve(true) });
    expect(await runScheduledRetraining(occurrence, running)).toEqual({ action: 'already-running' });
    expect(running.starts).toHaveLength(0);
    const empty = dependencies({ latestDatasetVersion: () => Promise.resolve(undefined) });
    expect(await runScheduledRetraining(occurrence, empty)).toEqual({ action: 'no-dataset' });
    expect(empty.starts).toHaveLength(0);
  });
});

describe('pipelineIdFor', () => {
  it('keeps instance ids to the characters model versions allow', () => {
    expect(pipelineIdFor(undefined, 1)).toBe('retrain-latest-s1');
    expect(pipelineIdFor('ds-abc', 7, 'drift-x')).toBe('retrain-ds-abc-s7-drift-x');
    expect(pipelineIdFor('a b/c', 1)).toBe('retrain-a-b-c-s1');
  });
});

describe('loadRetrainScheduleConfig', () => {
  it('defaults to weekly, turns off with `off`, and refuses a malformed schedule', () => {
    expect(loadRetrainScheduleConfig({}).schedule).toBe(DEFAULT_RETRAIN_SCHEDULE);
    expect(loadRetrainScheduleConfig({ RETRAIN_SCHEDULE: ' OFF ' }).schedule).toBeNull();
    expect(loadRetrainScheduleConfig({ RETRAIN_SCHEDULE: '0 30 1 * * *' }).schedule).toBe('0 30 1 * * *');
    expect(loadRetrainScheduleConfig({ RETRAIN_SCHEDULE: '12:00:00' }).schedule).toBe('12:00:00');
    expect(() => loadRetrainScheduleConfig({ RETRAIN_SCHEDULE: '0 2 * * 0' })).toThrow(ConfigError);
  });
});

describe('isRetrainingRunning', () => {
  it('counts pending and running retraining orchestrations only', async () => {
    const asked: unknown[] = [];
    const clientWith = (instances: { name: string }[]): DurableClient =>
      ({
        getStatusBy: (filter: unknown) => {
          asked.push(filter);
          return Promise.resolve(instances);
        },
      }) as unknown as DurableClient;
    expect(await isRetrainingRunning(clientWith([{ name: 'ingestOrchestrator' }]))).toBe(false);
    expect(await isRetrainingRunning(clientWith([{ name: RETRAIN_ORCHESTRATOR }]))).toBe(true);
    expect(asked[0]).toEqual({ runtimeStatus: ['Pending', 'Running'] });
  });
});
