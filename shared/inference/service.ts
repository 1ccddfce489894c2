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
import { DEFAULT_SESSION_TUNING } from './model';
import {
  blobModelSource,
  folderModelSource,
  ModelProvider,
  ModelUnavailableError,
  type ModelSource,
} from './provider';

export { ModelUnavailableError };

/** The arm that serves when no experiment runs. */
export const CHAMPION_ARM = 'champion';

export interface ClassifiedItem {
  readonly id: string | null;
  readonly predictionId: string;
  readonly codes: readonly RankedCode[];
  readonly heading: RolledUpCode;
  readonly chapter: RolledUpCode;
  readonly decision: Decision;
  readonly explanation: Explanation | null;
}

export interface ClassifyResponse {
  readonly modelVersion: string;
  readonly arm: string;
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
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

export class ClassificationService {
  constructor(readonly options: ClassificationServiceOptions) {}

  async classify(request: ClassifyRequest, caller: AuditCaller): Promise<ClassifyResponse> {
    const started = performance.now();
    const { provider, audit } = this.options;
    const { response, records } = await provider.withModel(async (model) => {
      const batch = await classifyBatch(
        model,
        request.items.map((item) => item.description),
        request,
      );
      const totalMs = round(performance.now() - started);
      const createdAt = new Date().toISOString();
      const records: PredictionRecord[] = [];
      const items = batch.items.map((result, index): ClassifiedItem => {
        const input = request.items[index]!;
        const predictionId = randomUUID();
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
          arm: CHAMPION_ARM,
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
          codes: result.codes,
          heading: result.heading,
          chapter: result.chapter,
          decision: result.decision,
          explanation: result.explanation,
        };
      });
      const response: ClassifyResponse = {
        modelVersion: model.modelVersion,
        arm: CHAMPION_ARM,
        items,
        timings: {
          encodeMs: round(batch.timings.encodeMs),
          inferenceMs: round(batch.timings.inferenceMs),
          postprocessMs: round(batch.timings.postprocessMs),
          totalMs,
        },
      };
      return { response, records };
    });
    audit.enqueue(records);
    return response;
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

/** Builds the service from settings and clients; the HTTP functions share one per instance. */
export function createClassificationService(
  config: AppConfig,
  clients: PlatformClients,
  log?: (level: 'warning' | 'error' | 'information', message: string) => void,
): ClassificationService {
  const setting = config.modelPackage;
  const source: ModelSource =
    setting === undefined
      ? {
          current: async () => {
            throw new ModelUnavailableError(
              'no serving model: set MODEL_PACKAGE to a models/ blob prefix or file:/folder',
            );
          },
          byVersion: async () => undefined,
        }
      : modelSourceFromSetting(setting, clients);
  const provider = new ModelProvider({
    source,
    nomenclature: loadNomenclature(),
    tuning: { ...DEFAULT_SESSION_TUNING, intraOpThreads: config.onnxIntraOpThreads },
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
  if (setting !== undefined) {
    provider.startPolling(config.modelRefreshIntervalMs, (message) => log?.('warning', message));
  }
  return new ClassificationService({ provider, audit, auditSink });
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
