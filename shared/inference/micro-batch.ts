/**
 * Micro-batching of concurrent requests: requests that arrive within a short window on the same model with the
 * same options share one `classifyBatch` (one ONNX run). It trades a few milliseconds of waiting for fewer,
 * larger runs; whether that pays depends on the model and on `explain` (occlusion rows grow with the items, so
 * explained items gain little from sharing a run). Measured in BENCHMARKS.md; off unless a window is set.
 */
import { classifyBatch, type BatchClassification, type ClassifyOptions } from './classify';
import type { ServingModel } from './model';

export interface MicroBatchSettings {
  /**
   * How long the first request of a batch waits for others to join, in milliseconds; 0 turns micro-batching
   * off (every request runs alone, at once). Setting `CLASSIFY_MICRO_BATCH_MS` (shared/config.ts).
   */
  readonly windowMs: number;
  /**
   * Items per shared run: a batch that reaches it runs at once, and a request at least this large never waits.
   * Setting `CLASSIFY_MICRO_BATCH_MAX_ITEMS`.
   */
  readonly maxItems: number;
}

export type BatchClassifier = (
  model: ServingModel,
  descriptions: readonly string[],
  options: ClassifyOptions,
) => Promise<BatchClassification>;

interface Waiting {
  readonly descriptions: readonly string[];
  readonly resolve: (result: BatchClassification) => void;
  readonly reject: (error: unknown) => void;
}

interface PendingBatch {
  readonly model: ServingModel;
  readonly options: ClassifyOptions;
  readonly key: string;
  readonly waiting: Waiting[];
  items: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Collects concurrent `classify` calls into shared runs. Each caller gets its own items, in its own order, with
 * the shared run's timings. When a shared run fails, each caller's items run again alone, so one caller's bad
 * input fails only that caller. Callers must hold `model` (inside `ModelProvider.withModel`) until their promise
 * settles, which keeps the session alive for the shared run.
 */
export class MicroBatcher {
  readonly #settings: MicroBatchSettings;
  readonly #classify: BatchClassifier;
  readonly #pending = new Map<ServingModel, Map<string, PendingBatch>>();
  readonly #running = new Set<Promise<void>>();
  #closed = false;
  #stats = { runs: 0, requests: 0, items: 0 };

  constructor(settings: MicroBatchSettings, classify: BatchClassifier = classifyBatch) {
    this.#settings = settings;
    this.#classify = classify;
  }

  get settings(): MicroBatchSettings {
    return this.#settings;
  }

  /** Shared runs so far, the requests and items they carried (requests per run is the batching gained). */
  stats(): { readonly runs: number; readonly requests: number; readonly items: number } {
    return { ...this.#stats };
  }

  classify(
    model: ServingModel,
    descriptions: readonly string[],
    options: ClassifyOptions,
  ): Promise<BatchClassification> {
    const { windowMs, maxItems } = this.#settings;
    if (this.#closed || windowMs <= 0 || descriptions.length >= maxItems) {
      return this.#track(this.#classify(model, descriptions, options), 1, descriptions.length);
    }
    const key = `${options.topK}|${options.explain}|${options.maxIdsPerRun ?? ''}`;
    let batch = this.#pending.get(model)?.get(key);
    if (batch !== undefined && batch.items + descriptions.length > maxItems) {
      this.#flush(batch);
      batch = undefined;
    }
    const joined = batch ?? this.#open(model, options, key);
    const result = new Promise<BatchClassification>((resolve, reject) =>
      joined.waiting.push({ descriptions, resolve, reject }),
    );
    joined.items += descriptions.length;
    if (joined.items >= maxItems) this.#flush(joined);
    return result;
  }

  /** Runs every waiting batch now, waits for the runs in flight, and from then on runs each request alone. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const byKey of [...this.#pending.values()])
      for (const batch of [...byKey.values()]) this.#flush(batch);
    while (this.#running.size > 0) await Promise.all([...this.#running]);
  }

  #open(model: ServingModel, options: ClassifyOptions, key: string): PendingBatch {
    const batch: PendingBatch = { model, options, key, waiting: [], items: 0, timer: undefined };
    batch.timer = setTimeout(() => this.#flush(batch), this.#settings.windowMs);
    let byKey = this.#pending.get(model);
    if (byKey === undefined) {
      // Emptied maps are dropped in #flush, so a retired model is not kept reachable from here.
      byKey = new Map();
      this.#pending.set(model, byKey);
    }
    byKey.set(key, batch);
    return batch;
  }

  #flush(batch: PendingBatch): void {
    clearTimeout(batch.timer);
    const byKey = this.#pending.get(batch.model);
    if (byKey?.get(batch.key) !== batch) return;
    byKey.delete(batch.key);
    if (byKey.size === 0) this.#pending.delete(batch.model);
    const run = this.#run(batch);
    this.#running.add(run);
    void run.finally(() => this.#running.delete(run));
  }

  async #run(batch: PendingBatch): Promise<void> {
    const { model, options, waiting } = batch;
    if (waiting.length === 1) {
      const only = waiting[0]!;
      await this.#track(this.#classify(model, only.descriptions, options), 1, only.descriptions.length).then(
        only.resolve,
        only.reject,
      );
      return;
    }
    let shared: BatchClassification;
    try {
      shared = await this.#track(
        this.#classify(
          model,
          waiting.flatMap((entry) => entry.descriptions),
          options,
        ),
        waiting.length,
        batch.items,
      );
    } catch {
      // Which caller's items broke the shared run is unknown: each runs alone, and only the guilty one fails.
      await Promise.all(
        waiting.map((entry) =>
          this.#track(this.#classify(model, entry.descriptions, options), 1, entry.descriptions.length).then(
            entry.resolve,
            entry.reject,
          ),
        ),
      );
      return;
    }
    let offset = 0;
    for (const entry of waiting) {
      const items = shared.items.slice(offset, offset + entry.descriptions.length);
      offset += entry.descriptions.length;
      entry.resolve({ items, timings: shared.timings });
    }
  }

  #track<T>(work: Promise<T>, requests: number, items: number): Promise<T> {
    this.#stats.runs++;
    this.#stats.requests += requests;
    this.#stats.items += items;
    return work;
  }
}
