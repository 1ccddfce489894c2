/**
 * The monitoring run: read the recent window of prediction records, build per-model distributions (predicted
 * chapter, top-1 confidence, OOV rate, review share, latency), compare each model with its training reference,
 * write an alert when a check fires, and start a retraining when drift is found, debounced: never while one runs,
 * and not again within the cool-down after a drift-started one.
 *
 * The window is streamed page by page into per-model accumulators (bins and sums, plus one latency per record),
 * so a busy hour costs memory in proportion to its number of predictions, not to their size. Grouping by model version is done
 * here, not in the query, because the local Cosmos emulator has no GROUP BY.
 */
import type { Container } from '@azure/cosmos';
import type { ContainerClient } from '@azure/storage-blob';
import { MANIFEST_FILE, parseManifest } from '../model-package/manifest';
import { sha256Hex } from '../model-package/package';
import { fnv1a } from '../text/encoder';
import type { MonitoringConfig } from '../config';
import {
  addCluster,
  binOf,
  checkLatencySlo,
  checkReviewRateSlo,
  emptyClusteredRate,
  testDistributionShift,
  testRateIncrease,
  type ClusteredRate,
  type DriftTestResult,
  type LatencySloResult,
  type RateTestResult,
  type ReviewRateSloResult,
} from './drift';
import {
  MONITORING_REFERENCE_FILE,
  OTHER_CHAPTER,
  VocabularyBitmap,
  countOov,
  parseMonitoringReference,
  type MonitoringReference,
} from './reference';

/** What starts a retraining; the retraining orchestration implements it. */
export interface RetrainingTrigger {
  /** True while a retraining (from any source) is running. */
  isRunning(): Promise<boolean>;
  /** Starts one; returns its instance id. */
  start(reason: RetrainingReason): Promise<string>;
}

export interface RetrainingReason {
  readonly source: 'drift';
  /** The alert that asked for it, so the pipeline can cite its statistics. */
  readonly alertId: string;
  readonly modelVersion: string;
  /** One line for people: which checks fired. */
  readonly summary: string;
}

/** The fields of a prediction record that monitoring reads. */
export interface MonitoredPrediction {
  readonly createdAt: string;
  readonly modelVersion: string;
  /** Top-1 calibrated confidence. */
  readonly topConfidence: number;
  /** Predicted chapter code (2 digits). */
  readonly chapter: string;
  readonly outcome: 'auto' | 'review';
  readonly latencyMs: number;
  readonly normalizedText: string;
}

export interface PredictionWindowSource {
  /** Calls `visit` for each prediction with start ≤ createdAt < end; resolves with the number visited. */
  scan(start: Date, end: Date, visit: (prediction: MonitoredPrediction) => Promise<void>): Promise<number>;
}

export interface ReferenceSource {
  /** The reference of a model version; undefined when its package carries none. */
  forModel(modelVersion: string): Promise<MonitoringReference | undefined>;
}

export type RetrainingAction =
  | { readonly action: 'started'; readonly instanceId: string; readonly startedAt: string }
  | { readonly action: 'already-running' }
  | { readonly action: 'cooling-down'; readonly until: string }
  | { readonly action: 'not-needed' };

export interface ModelChecks {
  readonly chapter: DriftTestResult;
  readonly confidence: DriftTestResult;
  /** Absent when no prediction in the window had a word token. */
  readonly oov: RateTestResult | null;
  readonly reviewRate: ReviewRateSloResult;
  readonly latencyP95: LatencySloResult;
  readonly latencyP99: LatencySloResult;
}

export type Finding = 'chapter-drift' | 'confidence-drift' | 'oov-drift' | 'review-rate-slo' | 'latency-slo';

/** One item of the Cosmos `alerts` container. */
export interface MonitoringAlert {
  /** `monitor-<modelVersion>-<window end>`: a repeated run over the same window overwrites, never duplicates. */
  readonly id: string;
  readonly kind: 'monitoring';
  readonly createdAt: string;
  readonly modelVersion: string;
  readonly window: { readonly start: string; readonly end: string; readonly predictions: number };
  readonly reference: { readonly createdAt: string; readonly records: number };
  readonly findings: readonly Finding[];
  /** True when a drift finding is among them (SLO breaches alone do not retrain). */
  readonly drift: boolean;
  readonly checks: ModelChecks;
  readonly retraining: RetrainingAction;
}

export interface AlertStore {
  write(alert: MonitoringAlert): Promise<void>;
  /** Alerts created at or after `since`, newest first, at most `limit`. */
  recent(since: Date, limit: number): Promise<MonitoringAlert[]>;
  /** The latest start time of a drift-started retraining at or after `since`, if any. */
  lastRetrainingStartSince(since: Date): Promise<Date | undefined>;
}

export type ModelOutcome =
  | { readonly modelVersion: string; readonly status: 'ok'; readonly predictions: number }
  | {
      readonly modelVersion: string;
      readonly status: 'alert';
      readonly predictions: number;
      readonly alert: MonitoringAlert;
    }
  | { readonly modelVersion: string; readonly status: 'insufficient-data'; readonly predictions: number }
  | { readonly modelVersion: string; readonly status: 'no-reference'; readonly predictions: number };

export interface MonitoringRunResult {
  readonly window: { readonly start: string; readonly end: string; readonly predictions: number };
  readonly models: readonly ModelOutcome[];
}

export interface MonitoringDependencies {
  readonly predictions: PredictionWindowSource;
  readonly references: ReferenceSource;
  readonly alerts: AlertStore;
  readonly retraining: RetrainingTrigger;
  readonly log?: (level: 'information' | 'warning', message: string) => void;
}

/** Per-model sums over the window, shaped by that model's reference. */
class ModelWindow {
  readonly chapterCounts: Float64Array;
  readonly confidenceCounts: Float64Array;
  readonly latencies: number[] = [];
  reviews = 0;
  predictions = 0;
  oov: ClusteredRate = emptyClusteredRate();
  readonly #chapterBin: Map<string, number>;
  readonly #otherBin: number;
  readonly #vocabulary: VocabularyBitmap;

  constructor(readonly reference: MonitoringReference) {
    this.chapterCounts = new Float64Array(reference.chapters.codes.length);
    this.confidenceCounts = new Float64Array(reference.confidence.counts.length);
    this.#chapterBin = new Map(reference.chapters.codes.map((code, index) => [code, index]));
    this.#otherBin = this.#chapterBin.get(OTHER_CHAPTER)!;
    this.#vocabulary = VocabularyBitmap.fromReference(reference.oov);
  }

  add(prediction: MonitoredPrediction): void {
    this.predictions++;
    const chapter = this.#chapterBin.get(prediction.chapter) ?? this.#otherBin;
    this.chapterCounts[chapter] = this.chapterCounts[chapter]! + 1;
    const confidence = binOf(prediction.topConfidence, this.reference.confidence.edges);
    this.confidenceCounts[confidence] = this.confidenceCounts[confidence]! + 1;
    if (prediction.outcome === 'review') this.reviews++;
    this.latencies.push(prediction.latencyMs);
    const { oov, tokens } = countOov(
      prediction.normalizedText,
      this.#vocabulary,
      this.reference.oov.tokenizer,
    );
    if (tokens > 0) this.oov = addCluster(this.oov, oov, tokens);
  }
}

function compactTime(date: Date): string {
  return date.toISOString().replace(/[-:.]/g, '');
}

/** Runs the checks of one model's window. Pure given its inputs; the seed makes the thresholds repeatable. */
export function checkModelWindow(window: ModelWindow, config: MonitoringConfig, seed: number): ModelChecks {
  const reference = window.reference;
  const driftOptions = {
    falseAlarmRate: config.falseAlarmRate,
    minimumPsi: config.minPsi,
    simulations: config.nullSimulations,
  };
  const latencies = Float64Array.from(window.latencies).sort();
  return {
    chapter: testDistributionShift(reference.chapters.counts, window.chapterCounts, {
      ...driftOptions,
      seed,
    }),
    confidence: testDistributionShift(reference.confidence.counts, window.confidenceCounts, {
      ...driftOptions,
      seed: seed + 1,
    }),
    oov:
      window.oov.trials > 0 && reference.oov.heldOut.trials > 0
        ? testRateIncrease(reference.oov.heldOut, window.oov, {
            falseAlarmRate: config.falseAlarmRate,
            minimumIncrease: config.minOovIncrease,
          })
        : null,
    reviewRate: checkReviewRateSlo(
      window.reviews,
      window.predictions,
      config.reviewRateTarget,
      config.falseAlarmRate,
    ),
    latencyP95: checkLatencySlo(latencies, 0.95, config.latencyP95Ms, config.falseAlarmRate),
    latencyP99: checkLatencySlo(latencies, 0.99, config.latencyP99Ms, config.falseAlarmRate),
  };
}

function findingsOf(checks: ModelChecks): Finding[] {
  const findings: Finding[] = [];
  if (checks.chapter.drifted) findings.push('chapter-drift');
  if (checks.confidence.drifted) findings.push('confidence-drift');
  if (checks.oov?.drifted === true) findings.push('oov-drift');
  if (checks.reviewRate.breached) findings.push('review-rate-slo');
  if (checks.latencyP95.breached || checks.latencyP99.breached) findings.push('latency-slo');
  return findings;
}

const DRIFT_FINDINGS: ReadonlySet<Finding> = new Set(['chapter-drift', 'confidence-drift', 'oov-drift']);

/**
 * One monitoring run over the window ending at `now`. Alerts are written only for models where a check fired;
 * at most one retraining is started per run.
 */
export async function runMonitoring(
  now: Date,
  config: MonitoringConfig,
  dependencies: MonitoringDependencies,
): Promise<MonitoringRunResult> {
  const end = now;
  const start = new Date(end.getTime() - config.windowMinutes * 60_000);
  const windows = new Map<string, ModelWindow | null>();
  const counts = new Map<string, number>();
  const total = await dependencies.predictions.scan(start, end, async (prediction) => {
    const { modelVersion } = prediction;
    counts.set(modelVersion, (counts.get(modelVersion) ?? 0) + 1);
    let window = windows.get(modelVersion);
    if (window === undefined) {
      const reference = await dependencies.references.forModel(modelVersion);
      window = reference === undefined ? null : new ModelWindow(reference);
      windows.set(modelVersion, window);
    }
    window?.add(prediction);
  });

  const outcomes: ModelOutcome[] = [];
  let retrainingStarted: RetrainingAction | undefined;
  for (const [modelVersion, window] of [...windows].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const predictions = counts.get(modelVersion) ?? 0;
    if (window === null) {
      dependencies.log?.(
        'warning',
        `model ${modelVersion}: no monitoring reference; ${predictions} predictions unchecked`,
      );
      outcomes.push({ modelVersion, status: 'no-reference', predictions });
      continue;
    }
    if (predictions < config.minRecords) {
      outcomes.push({ modelVersion, status: 'insufficient-data', predictions });
      continue;
    }
    const id = `monitor-${modelVersion}-${compactTime(end)}`;
    const checks = checkModelWindow(window, config, fnv1a(id));
    const findings = findingsOf(checks);
    if (findings.length === 0) {
      outcomes.push({ modelVersion, status: 'ok', predictions });
      continue;
    }
    const drift = findings.some((finding) => DRIFT_FINDINGS.has(finding));
    let retraining: RetrainingAction = { action: 'not-needed' };
    if (drift) {
      if (retrainingStarted === undefined) {
        retrainingStarted = await startRetrainingDebounced(now, config, dependencies, {
          source: 'drift',
          alertId: id,
          modelVersion,
          summary: `${findings.join(', ')} over ${predictions} predictions in ${start.toISOString()}..${end.toISOString()}`,
        });
        retraining = retrainingStarted;
      } else {
        // One retraining per run: a second drifted model rides on the first one's decision.
        retraining =
          retrainingStarted.action === 'started' ? { action: 'already-running' } : retrainingStarted;
      }
    }
    const alert: MonitoringAlert = {
      id,
      kind: 'monitoring',
      createdAt: now.toISOString(),
      modelVersion,
      window: { start: start.toISOString(), end: end.toISOString(), predictions },
      reference: { createdAt: window.reference.createdAt, records: window.reference.records },
      findings,
      drift,
      checks,
      retraining,
    };
    await dependencies.alerts.write(alert);
    dependencies.log?.(
      'warning',
      `model ${modelVersion}: ${findings.join(', ')}; retraining ${retraining.action}`,
    );
    outcomes.push({ modelVersion, status: 'alert', predictions, alert });
  }
  return {
    window: { start: start.toISOString(), end: end.toISOString(), predictions: total },
    models: outcomes,
  };
}

async function startRetrainingDebounced(
  now: Date,
  config: MonitoringConfig,
  dependencies: MonitoringDependencies,
  reason: RetrainingReason,
): Promise<RetrainingAction> {
  if (await dependencies.retraining.isRunning()) return { action: 'already-running' };
  const cooldownMs = config.retrainCooldownMinutes * 60_000;
  const last = await dependencies.alerts.lastRetrainingStartSince(new Date(now.getTime() - cooldownMs));
  if (last !== undefined)
    return { action: 'cooling-down', until: new Date(last.getTime() + cooldownMs).toISOString() };
  const instanceId = await dependencies.retraining.start(reason);
  return { action: 'started', instanceId, startedAt: now.toISOString() };
}

interface PredictionProjection {
  readonly createdAt: string;
  readonly modelVersion: string;
  readonly codes: readonly { readonly confidence: number }[];
  readonly chapter: string;
  readonly outcome: 'auto' | 'review';
  readonly latencyMs: number;
  readonly normalizedText: string;
}

/** The Cosmos `predictions` container as a window source: a cross-partition range query on `createdAt`. */
export function cosmosPredictionSource(container: Container, pageSize = 1000): PredictionWindowSource {
  return {
    scan: async (start, end, visit) => {
      const iterator = container.items.query<PredictionProjection>(
        {
          query:
            'SELECT c.createdAt, c.modelVersion, c.codes, c.chapter.code AS chapter, c.decision.outcome AS outcome, ' +
            'c.latency.totalMs AS latencyMs, c.normalizedText FROM c WHERE c.createdAt >= @start AND c.createdAt < @end',
          parameters: [
            { name: '@start', value: start.toISOString() },
            { name: '@end', value: end.toISOString() },
          ],
        },
        { maxItemCount: pageSize },
      );
      let visited = 0;
      while (iterator.hasMoreResults()) {
        const { resources } = await iterator.fetchNext();
        for (const row of resources) {
          const top = row.codes[0];
          if (top === undefined)
            throw new Error(`prediction of ${row.createdAt} (${row.modelVersion}) has no codes`);
          await visit({
            createdAt: row.createdAt,
            modelVersion: row.modelVersion,
            topConfidence: top.confidence,
            chapter: row.chapter,
            outcome: row.outcome,
            latencyMs: row.latencyMs,
            normalizedText: row.normalizedText,
          });
          visited++;
        }
      }
      return visited;
    },
  };
}

/** The Cosmos `alerts` container (partition key /id). */
export function cosmosAlertStore(container: Container): AlertStore {
  return {
    write: async (alert) => {
      await container.items.upsert(alert);
    },
    recent: async (since, limit) => {
      // No ORDER BY: the local emulator's support is partial, and a day of alerts is small enough to sort here.
      const { resources } = await container.items
        .query<MonitoringAlert>({
          query: 'SELECT * FROM c WHERE c.createdAt >= @since',
          parameters: [{ name: '@since', value: since.toISOString() }],
        })
        .fetchAll();
      return resources
        .sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0))
        .slice(0, limit)
        .map(withoutCosmosFields);
    },
    lastRetrainingStartSince: async (since) => {
      const { resources } = await container.items
        .query<{ startedAt: string }>({
          query:
            "SELECT c.retraining.startedAt AS startedAt FROM c WHERE c.retraining.action = 'started' AND c.retraining.startedAt >= @since",
          parameters: [{ name: '@since', value: since.toISOString() }],
        })
        .fetchAll();
      const latest = resources
        .map((r) => r.startedAt)
        .sort()
        .at(-1);
      return latest === undefined ? undefined : new Date(latest);
    },
  };
}

/** Drops the `_rid`, `_etag`, ... system fields Cosmos adds, so the API returns the record as written. */
function withoutCosmosFields(alert: MonitoringAlert): MonitoringAlert {
  return Object.fromEntries(
    Object.entries(alert).filter(([key]) => !key.startsWith('_')),
  ) as unknown as MonitoringAlert;
}

/**
 * References shipped in model packages under `models/<modelVersion>/`: the manifest is read and the reference
 * file is checked against the sha256 the manifest lists. Packages are immutable, so each is read once.
 */
export function packageReferenceSource(models: ContainerClient): ReferenceSource {
  const cache = new Map<string, Promise<MonitoringReference | undefined>>();
  const load = async (modelVersion: string): Promise<MonitoringReference | undefined> => {
    const base = `${modelVersion}/`;
    const manifestBlob = models.getBlockBlobClient(base + MANIFEST_FILE);
    if (!(await manifestBlob.exists())) return undefined;
    const location = `${models.containerName}/${base}`;
    const manifest = parseManifest(
      JSON.parse((await manifestBlob.downloadToBuffer()).toString('utf8')),
      location,
    );
    const entry = manifest.files[MONITORING_REFERENCE_FILE];
    if (entry === undefined) return undefined;
    const bytes = await models.getBlockBlobClient(base + MONITORING_REFERENCE_FILE).downloadToBuffer();
    if (sha256Hex(bytes) !== entry.sha256) {
      throw new Error(`${location}${MONITORING_REFERENCE_FILE}: sha256 does not match the manifest`);
    }
    return parseMonitoringReference(bytes, location + MONITORING_REFERENCE_FILE);
  };
  return {
    forModel: (modelVersion) => {
      let pending = cache.get(modelVersion);
      if (pending === undefined) {
        pending = load(modelVersion);
        // A failed read is not cached: the next run tries again.
        void pending.catch(() => cache.delete(modelVersion));
        cache.set(modelVersion, pending);
      }
      return pending;
    },
  };
}
