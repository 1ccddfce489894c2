/**
 * The classification service behind the HTTP functions: validated requests in, responses and audit records
 * out. It never sees an InvocationContext; the caller identity arrives as plain values.
 */
import { randomUUID } from 'node:crypto';
import { isAbsolute } from 'node:path';
import type { ClassifyRequest } from '../api/classify-request';
import { getConfig, type AppConfig } from '../config';
import { hashInput, AUDIT_RECORD_VERSION, type AuditCaller, type PredictionRecord } from '../audit/record';
import { AuditWriter, blobSpillStore, cosmosAuditSink, type AuditSink } from '../audit/writer';
import { loadNomenclature } from '../hs/nomenclature';
import { getPlatformClients, type PlatformClients } from '../platform/clients';
import { BLOB_CONTAINERS, COSMOS_CONTAINERS } from '../platform/resources';
import {
  classifyBatch,
  type Decision,
  type Explanation,
  type RankedCode,
  type RolledUpCode,
} from './classify';
import { assignmentKey, assignToChallenger } from '../experiments/assignment';
import { shadowPredictionId } from '../feedback/feedback';
import {
  answerOrFallBack,
  cosmosArmFailureSink,
  observeArm,
  type ArmFailureSink,
} from '../lifecycle/arm-failures';
import { registryFor } from '../registry/default';
import { MicroBatcher } from './micro-batch';
import { DEFAULT_SESSION_TUNING } from './model';
import {
  blobModelSource,
  folderModelSource,
  ModelProvider,
  ModelUnavailableError,
  type ModelSource,
} from './provider';
import {
  championFirstSource,
  cosmosExperimentLookup,
  ExperimentTracker,
  registryVersionSource,
  type ActiveExperiment,
} from './serving';

export { ModelUnavailableError };

/** The arm that serves when no experiment runs. */
export const CHAMPION_ARM = 'champion';

export interface ClassifiedItem {
  readonly id: string | null;
  readonly predictionId: string;
  /** The arm and model version that answered this item (items of one request may differ in split mode). */
  readonly arm: string;
  readonly modelVersion: string;
  readonly codes: readonly RankedCode[];
  readonly heading: RolledUpCode;
  readonly chapter: RolledUpCode;
  readonly decision: Decision;
  readonly explanation: Explanation | null;
}

export interface ClassifyResponse {
  /**
   * The model version that answered; when a split experiment sent the items of one request to both arms, the
   * versions that answered, comma-separated (each item names its own).
   */
  readonly modelVersion: string;
  /** `champion` or `challenger`; `mixed` when a split sent the request's items to both. */
  readonly arm: string;
  /** The running experiment the request joined, null when none runs. */
  readonly experimentId: string | null;
  readonly items: readonly ClassifiedItem[];
  readonly timings: {
    readonly encodeMs: number;
    readonly inferenceMs: number;
    readonly postprocessMs: number;
    readonly totalMs: number;
  };
}

export interface ReplayResult {
  readonly predictionId: string;
  readonly modelVersion: string;
  /** True when the re-run gives the recorded codes, confidences, roll-ups, decision and explanation. */
  readonly identical: boolean;
  readonly differences: readonly string[];
  readonly recorded: Pick<PredictionRecord, 'codes' | 'heading' | 'chapter' | 'decision' | 'explanation'>;
  readonly replayed: Pick<PredictionRecord, 'codes' | 'heading' | 'chapter' | 'decision' | 'explanation'>;
}

export interface ClassificationServiceOptions {
  readonly provider: ModelProvider;
  readonly audit: AuditWriter;
  readonly auditSink: AuditSink;
  /** The running experiment, when serving follows one. */
  readonly experiments?: ExperimentTracker;
  /** Where an arm's failed scorings inside an experiment are counted (its error-rate guardrail). Default: none. */
  readonly armFailures?: ArmFailureSink;
  /** Shares ONNX runs between concurrent requests (micro-batch.ts); without it each request runs alone. */
  readonly batcher?: MicroBatcher;
  /** Where off-path failures (shadow scoring) are reported. Default: console. */
  readonly log?: (level: 'warning' | 'error' | 'information', message: string) => void;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** The arm a challenger answers or shadows in. */
export const CHALLENGER_ARM = 'challenger';

/** Context fields that name the unit a split assigns (every line of a shipment sees the same model). */
const UNIT_KEY_FIELDS = ['shipmentId', 'declarantId'] as const;

/** The caller's unit key: `context.shipmentId`, else `context.declarantId`, when a string or number. */
export function unitKeyOf(context: Readonly<Record<string, unknown>> | undefined): string | undefined {
  for (const field of UNIT_KEY_FIELDS) {
    const value = context?.[field];
    if (typeof value === 'string' && value.length > 0) return value;
    if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  }
  return undefined;
}

/** One arm's answers to some of a request's items. */
interface ArmAnswer {
  readonly indices: readonly number[];
  readonly items: readonly ClassifiedItem[];
  readonly records: readonly PredictionRecord[];
  readonly modelVersion: string;
  readonly arm: string;
  readonly timings: { encodeMs: number; inferenceMs: number; postprocessMs: number };
}

export class ClassificationService {
  readonly #shadowWork = new Set<Promise<void>>();

  constructor(readonly options: ClassificationServiceOptions) {}

  async classify(request: ClassifyRequest, caller: AuditCaller): Promise<ClassifyResponse> {
    const started = performance.now();
    // One snapshot per request: an experiment ending mid-request must not split its items inconsistently.
    const active = this.options.experiments?.active;
    const experimentId = active?.experiment.id ?? null;
    const predictionIds = request.items.map(() => randomUUID());
    const all = request.items.map((_, index) => index);
    let answers: ArmAnswer[];
    if (active !== undefined && active.experiment.mode === 'split') {
      const { id, challengerShare } = active.experiment;
      const toChallenger = all.filter((index) =>
        assignToChallenger(
          id,
          assignmentKey(unitKeyOf(request.items[index]!.context), predictionIds[index]!),
          challengerShare ?? 0,
        ),
      );
      const chosen = new Set(toChallenger);
      const toChampion = all.filter((index) => !chosen.has(index));
      answers = await Promise.all([
        ...(toChampion.length > 0
          ? [
              this.#answer(
                this.options.provider,
                CHAMPION_ARM,
                toChampion,
                request,
                predictionIds,
                caller,
                experimentId,
                started,
              ),
            ]
          : []),
        ...(toChallenger.length > 0
          ? [
              // A failing challenger is counted (see #answer) and replaced by the champion for its items.
              answerOrFallBack(
                () =>
                  this.#answer(
                    active.challenger,
                    CHALLENGER_ARM,
                    toChallenger,
                    request,
                    predictionIds,
                    caller,
                    experimentId,
                    started,
                  ),
                () =>
                  this.#answer(
                    this.options.provider,
                    CHAMPION_ARM,
                    toChallenger,
                    request,
                    predictionIds,
                    caller,
                    experimentId,
                    started,
                  ),
                (error) =>
                  this.options.log?.(
                    'warning',
                    `challenger of experiment ${id} failed; the champion answered instead: ${
                      error instanceof Error ? error.message : String(error)
                    }`,
                  ),
              ),
            ]
          : []),
      ]);
    } else {
      answers = [
        await this.#answer(
          this.options.provider,
          CHAMPION_ARM,
          all,
          request,
          predictionIds,
          caller,
          experimentId,
          started,
        ),
      ];
    }
    const items: ClassifiedItem[] = new Array<ClassifiedItem>(request.items.length);
    for (const answer of answers) answer.indices.forEach((index, k) => (items[index] = answer.items[k]!));
    const sum = (key: keyof ArmAnswer['timings']): number =>
      round(answers.reduce((total, answer) => total + answer.timings[key], 0));
    const response: ClassifyResponse = {
      modelVersion: answers.map((answer) => answer.modelVersion).join(','),
      arm: answers.length === 1 ? answers[0]!.arm : 'mixed',
      experimentId,
      items,
      timings: {
        encodeMs: sum('encodeMs'),
        inferenceMs: sum('inferenceMs'),
        postprocessMs: sum('postprocessMs'),
        totalMs: round(performance.now() - started),
      },
    };
    this.options.audit.enqueue(answers.flatMap((answer) => answer.records));
    if (active !== undefined && active.experiment.mode === 'shadow') {
      this.#scoreInShadow(active, request, predictionIds, caller);
    }
    return response;
  }

  /** Resolves once every shadow scoring started so far has finished and enqueued its records. */
  async shadowIdle(): Promise<void> {
    while (this.#shadowWork.size > 0) await Promise.all([...this.#shadowWork]);
  }

  async #answer(
    provider: ModelProvider,
    arm: string,
    indices: readonly number[],
    request: ClassifyRequest,
    predictionIds: readonly string[],
    caller: AuditCaller,
    experimentId: string | null,
    started: number,
  ): Promise<ArmAnswer> {
    const failures = experimentId === null ? undefined : this.options.armFailures;
    const describe = () => ({
      experimentId: experimentId ?? '',
      arm: arm === CHALLENGER_ARM ? ('challenger' as const) : ('champion' as const),
      predictionIds: indices.map((index) => predictionIds[index]!),
    });
    return observeArm(failures, describe, started, provider, async (model) => {
      const inputs = indices.map((index) => request.items[index]!);
      const descriptions = inputs.map((item) => item.description);
      const batch = await (this.options.batcher?.classify(model, descriptions, request) ??
        classifyBatch(model, descriptions, request));
      const totalMs = round(performance.now() - started);
      const createdAt = new Date().toISOString();
      const records: PredictionRecord[] = [];
      const items = batch.items.map((result, k): ClassifiedItem => {
        const input = inputs[k]!;
        const predictionId = predictionIds[indices[k]!]!;
        records.push({
          id: predictionId,
          recordVersion: AUDIT_RECORD_VERSION,
          createdAt,
          caller,
          itemId: input.id ?? null,
          inputHash: hashInput(input.description),
          normalizedText: result.normalizedText,
          context: input.context ?? null,
          modelVersion: model.modelVersion,
          packageHash: model.packageHash,
          arm,
          experimentId,
          options: { topK: request.topK, explain: request.explain },
          codes: result.codes,
          heading: result.heading,
          chapter: result.chapter,
          decision: result.decision,
          explanation: result.explanation,
          latency: { totalMs, batchSize: request.items.length },
        });
        return {
          id: input.id ?? null,
          predictionId,
          arm,
          modelVersion: model.modelVersion,
          codes: result.codes,
          heading: result.heading,
          chapter: result.chapter,
          decision: result.decision,
          explanation: result.explanation,
        };
      });
      return { indices, items, records, modelVersion: model.modelVersion, arm, timings: batch.timings };
    });
  }

  /**
   * The challenger scores the items the champion answered, after the response exists: `setImmediate` defers the
   * work past the current turn, so the caller's response is handed to the host before the challenger runs. Its
   * records are written under `<predictionId>:shadow`; a failure costs the experiment those pairs, nothing more.
   */
  #scoreInShadow(
    active: ActiveExperiment,
    request: ClassifyRequest,
    predictionIds: readonly string[],
    caller: AuditCaller,
  ): void {
    const work = new Promise<void>((resolve) => setImmediate(resolve))
      .then(async () => {
        const started = performance.now();
        const answer = await this.#answer(
          active.challenger,
          CHALLENGER_ARM,
          request.items.map((_, index) => index),
          request,
          predictionIds.map(shadowPredictionId),
          caller,
          active.experiment.id,
          started,
        );
        this.options.audit.enqueue(answer.records);
      })
      .catch((error: unknown) => {
        const message = `shadow scoring for experiment ${active.experiment.id} failed: ${
          error instanceof Error ? error.message : String(error)
        }`;
        if (this.options.log !== undefined) this.options.log('error', message);
        else console.error(message);
      })
      .finally(() => this.#shadowWork.delete(work));
    this.#shadowWork.add(work);
  }

  /** The record of a prediction: from Cosmos, or still in the writer's buffer. */
  async record(predictionId: string): Promise<PredictionRecord | undefined> {
    return this.options.audit.pending(predictionId) ?? (await this.options.auditSink.read(predictionId));
  }

  /**
   * Re-runs a recorded prediction on its recorded model version from its normalised text (normalisation is
   * idempotent, so the model sees the same features) and compares the answer field by field.
   */
  async replay(predictionId: string): Promise<ReplayResult | undefined> {
    const record = await this.record(predictionId);
    if (record === undefined) return undefined;
    const replayed = await this.options.provider.withVersion(record.modelVersion, async (model) => {
      const { items } = await classifyBatch(model, [record.normalizedText], record.options);
      return items[0]!;
    });
    if (replayed === undefined) {
      throw new ModelUnavailableError(`model version ${record.modelVersion} is no longer available`);
    }
    const recorded = {
      codes: record.codes,
      heading: record.heading,
      chapter: record.chapter,
      decision: record.decision,
      explanation: record.explanation,
    };
    const again = {
      codes: replayed.codes,
      heading: replayed.heading,
      chapter: replayed.chapter,
      decision: replayed.decision,
      explanation: replayed.explanation,
    };
    const differences = (Object.keys(recorded) as (keyof typeof recorded)[]).filter(
      (key) => JSON.stringify(recorded[key]) !== JSON.stringify(again[key]),
    );
    return {
      predictionId,
      modelVersion: record.modelVersion,
      identical: differences.length === 0,
      differences,
      recorded,
      replayed: again,
    };
  }

  async close(): Promise<void> {
    await this.shadowIdle();
    await this.options.batcher?.close();
    await this.options.armFailures?.idle();
    await this.options.experiments?.close();
    await this.options.audit.close();
    await this.options.provider.close();
  }
}

/** `MODEL_PACKAGE` as a source: `file:/abs/path` or an absolute path is a folder, anything else a blob prefix. */
export function modelSourceFromSetting(setting: string, clients: PlatformClients): ModelSource {
  if (setting.startsWith('file:')) return folderModelSource(setting.slice('file:'.length));
  if (isAbsolute(setting)) return folderModelSource(setting);
  return blobModelSource(clients.dataBlobs.getContainerClient(BLOB_CONTAINERS.models), setting);
}

/**
 * Builds the service from settings and clients; the HTTP functions share one per instance. The registry's
 * champion serves (the `MODEL_PACKAGE` setting while there is none), and a running experiment's challenger is
 * loaded beside it; both are polled every `MODEL_REFRESH_INTERVAL_MS`.
 */
export function createClassificationService(
  config: AppConfig,
  clients: PlatformClients,
  log?: (level: 'warning' | 'error' | 'information', message: string) => void,
): ClassificationService {
  const setting = config.modelPackage;
  const registry = registryFor(clients);
  const nomenclature = loadNomenclature();
  const tuning = { ...DEFAULT_SESSION_TUNING, intraOpThreads: config.onnxIntraOpThreads };
  const provider = new ModelProvider({
    source: championFirstSource(
      registry,
      setting === undefined ? undefined : modelSourceFromSetting(setting, clients),
    ),
    nomenclature,
    tuning,
  });
  const experiments = new ExperimentTracker({
    lookup: cosmosExperimentLookup(clients.database.container(COSMOS_CONTAINERS.experiments.id)),
    challengerSource: (modelVersion) => registryVersionSource(registry, modelVersion),
    nomenclature,
    tuning,
    log,
  });
  const auditSink = cosmosAuditSink(clients.database.container(COSMOS_CONTAINERS.predictions.id));
  const audit = new AuditWriter({
    sink: auditSink,
    spill: blobSpillStore(clients.dataBlobs.getContainerClient(BLOB_CONTAINERS.auditSpill)),
    maxBuffered: config.auditBufferMax,
    writeTimeoutMs: config.auditWriteTimeoutMs,
    log,
  });
  audit.start();
  provider.startPolling(config.modelRefreshIntervalMs, (message) => log?.('warning', message));
  experiments.startPolling(config.modelRefreshIntervalMs);
  const armFailures = cosmosArmFailureSink(
    clients.database.container(COSMOS_CONTAINERS.experiments.id),
    log ?? consoleLog,
  );
  const batcher =
    config.classifyMicroBatchMs > 0
      ? new MicroBatcher({
          windowMs: config.classifyMicroBatchMs,
          maxItems: config.classifyMicroBatchMaxItems,
        })
      : undefined;
  return new ClassificationService({ provider, audit, auditSink, experiments, armFailures, batcher, log });
}

let shared: ClassificationService | undefined;

/**
 * The instance-wide service (one ONNX session, one audit writer), built from `getConfig()` on first use. The
 * audit writer outlives any one invocation, so it logs to the process console rather than to a context.
 */
export function getClassificationService(): ClassificationService {
  shared ??= createClassificationService(getConfig(), getPlatformClients(), consoleLog);
  return shared;
}

function consoleLog(level: 'warning' | 'error' | 'information', message: string): void {
  if (level === 'information') console.info(message);
  else if (level === 'warning') console.warn(message);
  else console.error(message);
}

/** Replaces the instance-wide service; for tests that serve a package they built. */
export async function setClassificationServiceForTests(
  service: ClassificationService | undefined,
): Promise<void> {
  const previous = shared;
  shared = service;
  if (previous !== undefined && previous !== service) await previous.close();
}

/** Closes the instance-wide service, if one was built: flushes the audit buffer and releases the sessions. */
export async function closeClassificationService(): Promise<void> {
  const previous = shared;
  shared = undefined;
  if (previous !== undefined) await previous.close();
}
