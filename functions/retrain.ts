/**
 * The retraining pipeline as one Durable orchestration with its activities:
 *   prepare (dataset, record) → fan out one training activity per architecture and per TPE trial (rounds of
 *   trials, each round proposed from the results so far) → fan in → winner by validation accuracy → gate against
 *   the champion (paired bootstrap, overall and per large chapter, golden set, ONNX parity of the uploaded
 *   package) → register the winner as challenger and start its shadow experiment → record.
 * Started by a new dataset version (blob trigger on the version's manifest), by `POST /api/retrain`, and by the
 * monitoring timer on drift and by the retraining schedule (both through shared/pipelines/retraining.ts).
 */
import { type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import type {
  ActivityHandler,
  DurableClient,
  OrchestrationContext,
  OrchestrationHandler,
} from 'durable-functions';
import type { GateVerdict, PipelineRecord } from '../shared/pipelines/records';
import {
  DEFAULT_PIPELINE_SEED,
  RETRAIN_ORCHESTRATOR,
  pipelineIdFor,
  startRetraining,
  type RetrainStart,
} from '../shared/pipelines/retraining';
import { loadBlobTriggerSource } from '../shared/config';
import { BLOB_TRIGGER_CONNECTION, BLOB_TRIGGERS, blobTriggerPath } from '../shared/platform/blob-triggers';
import type { GatePolicy } from '../training/pipeline/gate';
import {
  gateWinner,
  registerWinner,
  resolveDataset,
  savePipeline,
  type CandidateOutcome,
  type CandidateTask,
  type GateTask,
  type RegisterOutcome,
  type RegisterTask,
  type ResolvedDataset,
} from '../training/pipeline/service';
import {
  ARCHITECTURES,
  SEARCH_SPACES,
  isArchitecture,
  resolveCandidateSpec,
  type Architecture,
  type CandidateSpec,
} from '../training/pipeline/spec';
import { runCandidateInWorker } from '../training/pipeline/worker-runner';
import { proposeTrials } from '../training/tuning/tpe';
import type { CompletedTrial } from '../training/tuning/space';

const ACTIVITY = {
  prepare: 'retrainPrepare',
  train: 'retrainTrainCandidate',
  gate: 'retrainGate',
  register: 'retrainRegister',
  record: 'retrainRecord',
} as const;

/** Settings of one pipeline run. */
export interface RetrainSettings {
  /** Architectures trained with their default settings. Default ['bag', 'textcnn']. */
  archs: Architecture[];
  /** Maximum epochs per candidate (early stopping may end sooner). Default: each architecture's own
   * (`DEFAULT_EPOCHS` in training/pipeline/spec.ts: 15 for bag, 5 for the others). */
  epochs: number | undefined;
  /** Seed of every candidate (trials derive theirs from it). Default 1. */
  seed: number;
  /** TPE trials per architecture on top of the default candidate. Default 0. */
  tune: number;
  /** Trials of one architecture trained in parallel per round. Default 2. */
  tuneBatch: number;
  /** Encoder hash buckets (not for 'linear', whose table is buckets x classes). Default 65536. */
  buckets: number;
  /** Class-imbalance remedy. Default 'upsample'. */
  balance: CandidateSpec['balance'];
  /** Register the winner (false: train and gate only, e.g. to reproduce a model). Default true. */
  register: boolean;
  /** Overrides of the gate policy (training/pipeline/gate.ts). Default none. */
  gate: Partial<GatePolicy>;
}

export const DEFAULT_RETRAIN_SETTINGS: Readonly<RetrainSettings> = Object.freeze<RetrainSettings>({
  archs: ['bag', 'textcnn'],
  epochs: undefined,
  seed: DEFAULT_PIPELINE_SEED,
  tune: 0,
  tuneBatch: 2,
  buckets: 1 << 16,
  balance: 'upsample',
  register: true,
  gate: {},
});

export interface RetrainInput extends RetrainStart {
  readonly settings?: Partial<RetrainSettings>;
}

/** Validates settings from outside (HTTP bodies); returns the problems, one per field. */
export function validateSettings(value: unknown): {
  settings?: Partial<RetrainSettings>;
  problems: string[];
} {
  const problems: string[] = [];
  if (value === undefined) return { settings: {}, problems };
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { problems: ['settings: expected an object'] };
  const v = value as Record<string, unknown>;
  const settings: Partial<RetrainSettings> = {};
  const integer = (
    name: 'epochs' | 'seed' | 'tune' | 'tuneBatch' | 'buckets',
    min: number,
    max: number,
  ): void => {
    const x = v[name];
    if (x === undefined) return;
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < min || x > max) {
      problems.push(`settings.${name}: expected an integer in [${min}, ${max}]`);
    } else settings[name] = x;
  };
  integer('epochs', 1, 100);
  integer('seed', 0, 2 ** 31 - 1);
  integer('tune', 0, 100);
  integer('tuneBatch', 1, 16);
  integer('buckets', 2, 1 << 22);
  if (v.archs !== undefined) {
    if (!Array.isArray(v.archs) || v.archs.length === 0 || !v.archs.every(isArchitecture)) {
      problems.push(`settings.archs: expected a non-empty list of ${ARCHITECTURES.join(', ')}`);
    } else settings.archs = [...new Set(v.archs)];
  }
  if (v.balance !== undefined) {
    if (v.balance !== 'none' && v.balance !== 'upsample' && v.balance !== 'class-weights') {
      problems.push("settings.balance: expected 'none', 'upsample' or 'class-weights'");
    } else settings.balance = v.balance;
  }
  if (v.register !== undefined) {
    if (typeof v.register !== 'boolean') problems.push('settings.register: expected a boolean');
    else settings.register = v.register;
  }
  if (v.gate !== undefined) {
    if (typeof v.gate !== 'object' || v.gate === null) problems.push('settings.gate: expected an object');
    else settings.gate = v.gate;
  }
  return { settings, problems };
}

function candidateSpec(
  settings: RetrainSettings,
  arch: Architecture,
  seed: number,
  params = {},
): CandidateSpec {
  return resolveCandidateSpec({
    arch,
    seed,
    ...(settings.epochs === undefined ? {} : { epochs: settings.epochs }),
    balance: settings.balance,
    hyperParameters: params,
    ...(arch === 'linear' ? {} : { encoder: { buckets: settings.buckets } }),
  });
}

interface CandidateState {
  id: string;
  arch: Architecture;
  trial: number | null;
  status: 'training' | 'done';
  validationAccuracy?: number;
  testAccuracy?: number;
}

export const retrainOrchestrator: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput<RetrainInput>();
  const settings: RetrainSettings = { ...DEFAULT_RETRAIN_SETTINGS, ...input.settings };
  const pipelineId = context.df.instanceId;
  const startedAt = context.df.currentUtcDateTime.toISOString();
  const stageSeconds: Record<string, number> = {};
  let stageStart = context.df.currentUtcDateTime.getTime();
  let stage = 'preparing';
  const candidates: CandidateState[] = [];
  const status = (extra: Record<string, unknown> = {}): void =>
    context.df.setCustomStatus({ stage, pipelineId, candidates, ...extra });
  const enter = (next: string): void => {
    const now = context.df.currentUtcDateTime.getTime();
    stageSeconds[stage] = (stageSeconds[stage] ?? 0) + (now - stageStart) / 1000;
    stageStart = now;
    stage = next;
    status();
  };
  let record: PipelineRecord = {
    id: pipelineId,
    kind: 'pipeline',
    trigger: input.trigger,
    datasetVersion: input.datasetVersion ?? '',
    datasetHash: '',
    seed: settings.seed,
    settings: { ...settings },
    status: 'running',
    stage,
    startedAt,
    finishedAt: null,
    candidates: [],
    winner: null,
    gate: null,
    challenger: null,
    experimentId: null,
    error: null,
    stageSeconds,
  };
  status();
  try {
    const dataset = (yield context.df.callActivityWithRetry(
      ACTIVITY.prepare,
      retry,
      record,
    )) as ResolvedDataset;
    record = { ...record, datasetVersion: dataset.version, datasetHash: dataset.contentHash };
    const identity = { version: dataset.version, contentHash: dataset.contentHash };

    enter('training');
    const outcomes: CandidateOutcome[] = [];
    const histories = new Map<Architecture, CompletedTrial[]>(settings.archs.map((a) => [a, []]));
    const rounds = settings.tune === 0 ? 1 : Math.ceil(settings.tune / settings.tuneBatch);
    for (let round = 0; round < rounds; round++) {
      const tasks: CandidateTask[] = [];
      for (const arch of settings.archs) {
        if (round === 0) tasks.push(task(arch, null, candidateSpec(settings, arch, settings.seed)));
        const history = histories.get(arch)!;
        const count = Math.min(settings.tuneBatch, settings.tune - history.length);
        if (count <= 0) continue;
        for (const trial of proposeTrials(
          SEARCH_SPACES[arch],
          history,
          count,
          settings.seed,
          history.length,
        )) {
          tasks.push(task(arch, trial.id, candidateSpec(settings, arch, trial.seed, trial.params)));
        }
      }
      for (const t of tasks)
        candidates.push({ id: t.candidateId, arch: t.spec.arch, trial: t.trial, status: 'training' });
      status({ round: round + 1, rounds });
      const results = (yield context.df.Task.all(
        tasks.map((t) => context.df.callActivityWithRetry(ACTIVITY.train, retry, t)),
      )) as CandidateOutcome[];
      results.forEach((outcome, k) => {
        const t = tasks[k]!;
        outcomes.push(outcome);
        const state = candidates.find((c) => c.id === t.candidateId)!;
        state.status = 'done';
        state.validationAccuracy = outcome.validationAccuracy;
        state.testAccuracy = outcome.summary.metrics['test.accuracyAt1'];
        if (t.trial !== null) {
          histories.get(t.spec.arch)!.push({
            trial: { id: t.trial, params: t.spec.hyperParameters, seed: t.spec.seed },
            result: { id: t.trial, score: outcome.validationAccuracy },
          });
        }
      });
      record = { ...record, candidates: outcomes.map((o) => o.summary) };
    }

    // The winner is chosen on validation; test rows only measure it (and the gate).
    const winner = outcomes.reduce((best, o) => (o.validationAccuracy > best.validationAccuracy ? o : best));
    record = { ...record, winner: winner.summary.modelVersion };
    enter('gating');
    const split = candidateSpec(settings, winner.summary.arch as Architecture, settings.seed);
    const verdict = (yield context.df.callActivityWithRetry(ACTIVITY.gate, retry, {
      dataset: identity,
      winner,
      split: {
        splitSeed: split.splitSeed,
        testFraction: split.testFraction,
        validationFraction: split.validationFraction,
      },
      policy: settings.gate,
    } satisfies GateTask)) as GateVerdict;
    record = { ...record, gate: verdict };
    status({ winner: winner.summary, gate: verdict });

    if (verdict.passed && settings.register) {
      enter('registering');
      const registered = (yield context.df.callActivityWithRetry(ACTIVITY.register, retry, {
        pipelineId,
        winner: winner.summary,
        verdict,
      } satisfies RegisterTask)) as RegisterOutcome;
      record = {
        ...record,
        challenger: registered.role === 'challenger' ? registered.modelVersion : null,
        experimentId: registered.experimentId,
      };
    }
    enter('done');
    record = {
      ...record,
      status: verdict.passed ? 'completed' : 'gate-failed',
      stage,
      finishedAt: context.df.currentUtcDateTime.toISOString(),
      stageSeconds,
    };
    yield context.df.callActivityWithRetry(ACTIVITY.record, retry, record);
    status({
      winner: winner.summary,
      gate: verdict,
      challenger: record.challenger,
      experimentId: record.experimentId,
    });
    return record;
  } catch (error: unknown) {
    const message = error instanceof Error ? error.message : String(error);
    const failedStage = stage;
    enter('failed');
    record = {
      ...record,
      status: 'failed',
      stage: failedStage,
      error: message,
      finishedAt: context.df.currentUtcDateTime.toISOString(),
      stageSeconds,
    };
    yield context.df.callActivityWithRetry(ACTIVITY.record, retry, record);
    throw error;
  }

  function task(arch: Architecture, trial: number | null, spec: CandidateSpec): CandidateTask {
    return {
      pipelineId,
      candidateId: trial === null ? arch : `${arch}-t${trial}`,
      trial,
      spec,
      dataset: { version: record.datasetVersion, contentHash: record.datasetHash },
      createdAt: startedAt,
    };
  }
};

/** A failed attempt is retried; the training activity then resumes from its last uploaded checkpoint. */
const retry = new df.RetryOptions(2000, 3);

/** Logs and rethrows, so retries still happen and the failure is visible in the host log. */
function activity<I, O>(
  name: string,
  run: (input: I, context: InvocationContext) => Promise<O>,
): ActivityHandler {
  return async (input: I, context: InvocationContext): Promise<O> => {
    try {
      return await run(input, context);
    } catch (error: unknown) {
      context.error(
        `${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      );
      throw error;
    }
  };
}

export const retrainPrepare = activity(ACTIVITY.prepare, async (record: PipelineRecord) => {
  const dataset = await resolveDataset(record.datasetVersion === '' ? undefined : record.datasetVersion);
  await savePipeline({ ...record, datasetVersion: dataset.version, datasetHash: dataset.contentHash });
  return dataset;
});
/** Training runs in a worker thread, so the instance keeps serving HTTP while a candidate trains. */
export const retrainTrainCandidate: ActivityHandler = activity(
  ACTIVITY.train,
  (task: CandidateTask, context: InvocationContext) =>
    runCandidateInWorker(task, { log: (message) => context.log(message) }),
);
export const retrainGate = activity(ACTIVITY.gate, gateWinner);
export const retrainRegister = activity(ACTIVITY.register, registerWinner);
export const retrainRecord = activity(ACTIVITY.record, savePipeline);

/** A new dataset version (its manifest is written once, when the version is created) starts one pipeline. */
export async function retrainOnDataset(
  _blob: unknown,
  client: DurableClient,
  context: InvocationContext,
): Promise<void> {
  const version = context.triggerMetadata?.version;
  if (typeof version !== 'string') throw new Error('blob trigger metadata lacks the dataset version');
  const settings = DEFAULT_RETRAIN_SETTINGS;
  const input: RetrainInput = {
    trigger: { source: 'dataset', ref: version, reason: `new dataset version ${version}` },
    datasetVersion: version,
  };
  const { instanceId, started } = await startRetraining(client, pipelineIdFor(version, settings.seed), input);
  context.log(
    started
      ? `dataset ${version}: retraining ${instanceId} started`
      : `dataset ${version}: ${instanceId} exists`,
  );
}

/** `POST /api/retrain` {datasetVersion?, settings?, reason?}: 202 with the pipeline id and its status URL. */
export async function retrainHttp(
  request: HttpRequest,
  client: DurableClient,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  let body: unknown = {};
  const text = await request.text();
  if (text.trim() !== '') {
    try {
      body = JSON.parse(text);
    } catch {
      return { status: 400, jsonBody: { error: 'body: not JSON' } };
    }
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return { status: 400, jsonBody: { error: 'body: expected an object' } };
  const fields = body as Record<string, unknown>;
  const problems: string[] = [];
  const datasetVersion = fields.datasetVersion;
  if (
    datasetVersion !== undefined &&
    (typeof datasetVersion !== 'string' || !/^ds-[0-9a-f]{20}$/.test(datasetVersion))
  ) {
    problems.push('datasetVersion: expected ds- and 20 hex digits');
  }
  if (fields.reason !== undefined && typeof fields.reason !== 'string')
    problems.push('reason: expected a string');
  const validated = validateSettings(fields.settings);
  problems.push(...validated.problems);
  if (problems.length > 0) return { status: 400, jsonBody: { error: problems.join('; ') } };
  const seed = validated.settings?.seed ?? DEFAULT_RETRAIN_SETTINGS.seed;
  const suffix = new Date().toISOString().replace(/[-:.TZ]/g, '');
  const instanceId = pipelineIdFor(datasetVersion as string | undefined, seed, suffix);
  const input: RetrainInput = {
    trigger: {
      source: 'http',
      ref: context.invocationId,
      reason: (fields.reason as string | undefined) ?? 'requested over HTTP',
    },
    ...(datasetVersion === undefined ? {} : { datasetVersion: datasetVersion as string }),
    settings: validated.settings ?? {},
  };
  await startRetraining(client, instanceId, input);
  return { status: 202, jsonBody: { id: instanceId, statusUrl: `/api/pipelines/${instanceId}` } };
}

// Read at registration, as for ingestUpload: on Flex Consumption only the 'EventGrid' source fires.
df.app.client.storageBlob(BLOB_TRIGGERS.retrainOnDataset.functionName, {
  path: blobTriggerPath(BLOB_TRIGGERS.retrainOnDataset),
  connection: BLOB_TRIGGER_CONNECTION,
  source: loadBlobTriggerSource(process.env),
  handler: retrainOnDataset,
});
df.app.client.http('retrainHttp', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'retrain',
  handler: retrainHttp,
});
df.app.orchestration(RETRAIN_ORCHESTRATOR, retrainOrchestrator);
df.app.activity(ACTIVITY.prepare, { handler: retrainPrepare });
df.app.activity(ACTIVITY.train, { handler: retrainTrainCandidate });
df.app.activity(ACTIVITY.gate, { handler: retrainGate });
df.app.activity(ACTIVITY.register, { handler: retrainRegister });
df.app.activity(ACTIVITY.record, { handler: retrainRecord });
