/**
 * Ground-truth feedback: the HS code that was finally filed for a prediction. One feedback document per
 * prediction (id = prediction id, the container's partition key), created with a plain `create`, so the same
 * feedback delivered twice (a Service Bus redelivery, an HTTP retry) is counted once: the second create answers
 * 409 and is reported as a duplicate. The document carries the join with the prediction record (model version,
 * arm, correctness at HS2/HS4/HS6, and the shadow challenger's outcome when there was one), so the decision step
 * aggregates feedback without reading predictions again.
 */
import { ErrorResponse, type Container } from '@azure/cosmos';
import type { PredictionRecord } from '../audit/record';
import { correctnessByLevel, type LevelCorrectness } from '../experiments/state';

/** What a caller sends. */
export interface FeedbackInput {
  readonly predictionId: string;
  /** The code actually filed: at least six digits (HS6), national digits allowed; dots and spaces ignored. */
  readonly hsCode: string;
  /** Who reports it (e.g. the broker system's name). Optional. */
  readonly source: string | null;
  /** When it was filed, ISO-8601. Optional. */
  readonly filedAt: string | null;
}

export type FeedbackRejection = 'malformed' | 'unknown-prediction' | 'conflicting-feedback';

/**
 * Feedback that can never be counted. Its `deadLetterReason` and `deadLetterErrorDescription` are what a Service
 * Bus consumer puts on the dead-lettered message (the local host's Service Bus trigger does exactly that).
 */
export class FeedbackRejectedError extends Error {
  readonly deadLetterReason: FeedbackRejection;
  readonly deadLetterErrorDescription: string;
  constructor(reason: FeedbackRejection, description: string) {
    super(`feedback rejected (${reason}): ${description}`);
    this.name = 'FeedbackRejectedError';
    this.deadLetterReason = reason;
    this.deadLetterErrorDescription = description;
  }
}

/** How one model did on the item. */
export interface ModelOutcome {
  readonly modelVersion: string;
  readonly arm: string;
  readonly predictedCode: string | null;
  readonly correct: LevelCorrectness;
  readonly latencyMs: number;
  readonly review: boolean;
}

/** One feedback document (Cosmos `feedback`, id = partition key = prediction id). */
export interface FeedbackRecord {
  readonly id: string;
  readonly predictionId: string;
  readonly hsCode: string;
  readonly source: string | null;
  readonly filedAt: string | null;
  readonly receivedAt: string;
  /** `http` or `servicebus`, and the Service Bus message id when there is one. */
  readonly channel: 'http' | 'servicebus';
  readonly messageId: string | null;
  /** When the prediction was served: experiments select their feedback by this time. */
  readonly servedAt: string;
  readonly served: ModelOutcome;
  /** The challenger's off-path score of the same item (shadow mode), when it exists. */
  readonly shadow: ModelOutcome | null;
}

/**
 * A Service Bus feedback message that can never be counted, kept in Cosmos `feedback` with its reason. On Azure
 * the trigger cannot dead-letter with our reason (see README, "Experiments, feedback and promotion"), so this
 * record and the log are where the reason lives. The `~` prefix cannot start a prediction id, so the record never
 * collides with feedback; it has no `servedAt`, so no experiment counts it.
 */
export interface FeedbackRejectionRecord {
  readonly id: string;
  /** Equal to `id` (the container's partition key). */
  readonly predictionId: string;
  readonly kind: 'rejection';
  readonly messageId: string;
  readonly reason: FeedbackRejection;
  readonly description: string;
  /** Attempts so far, as the trigger reports them (1 on the first delivery); null when unknown. */
  readonly deliveryCount: number | null;
  /** The message body as JSON, cut at REJECTED_BODY_MAX_CHARS characters. */
  readonly body: string;
  readonly rejectedAt: string;
}

/** How much of a rejected body is kept: enough to see what was wrong, never a large item. */
export const REJECTED_BODY_MAX_CHARS = 2000;

export function rejectionRecordId(messageId: string): string {
  return `~rejected:${messageId}`;
}

export type FeedbackResult =
  | { readonly outcome: 'recorded'; readonly record: FeedbackRecord }
  | { readonly outcome: 'duplicate'; readonly record: FeedbackRecord };

/** The id under which the shadow challenger's prediction of item `predictionId` is recorded. */
export function shadowPredictionId(predictionId: string): string {
  return `${predictionId}${SHADOW_SUFFIX}`;
}

const SHADOW_SUFFIX = ':shadow';

const PREDICTION_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const FIELDS = new Set(['predictionId', 'hsCode', 'source', 'filedAt']);

export type ParsedFeedback =
  | { readonly ok: true; readonly value: FeedbackInput }
  | { readonly ok: false; readonly problems: readonly string[] };

/** Validates a feedback body; every problem is named, each with its field. */
export function parseFeedback(body: unknown): ParsedFeedback {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, problems: ['body: expected a JSON object'] };
  }
  const record = body as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of Object.keys(record)) if (!FIELDS.has(key)) problems.push(`${key}: unknown field`);
  const { predictionId, hsCode, source, filedAt } = record;
  if (typeof predictionId !== 'string' || !PREDICTION_ID_PATTERN.test(predictionId)) {
    problems.push('predictionId: expected the id returned by /api/classify (1-128 letters, digits, . _ : -)');
  } else if (predictionId.endsWith(SHADOW_SUFFIX)) {
    // Shadow scores are never served, so nobody files a code against them; counting one would bias the arm.
    problems.push('predictionId: names a shadow score, not a served prediction');
  }
  const digits = typeof hsCode === 'string' ? hsCode.replace(/[.\s]/g, '') : '';
  if (typeof hsCode !== 'string' || !/^\d{6,10}$/.test(digits)) {
    problems.push('hsCode: expected the filed code, 6 to 10 digits (dots and spaces allowed)');
  }
  if (source !== undefined && source !== null && (typeof source !== 'string' || source.length > 200)) {
    problems.push('source: expected a string of at most 200 characters');
  }
  if (
    filedAt !== undefined &&
    filedAt !== null &&
    (typeof filedAt !== 'string' || Number.isNaN(Date.parse(filedAt)))
  ) {
    problems.push('filedAt: expected an ISO-8601 time');
  }
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    value: {
      predictionId: predictionId as string,
      hsCode: digits,
      source: typeof source === 'string' ? source : null,
      filedAt: typeof filedAt === 'string' ? new Date(filedAt).toISOString() : null,
    },
  };
}

export interface FeedbackServiceTargets {
  /** Cosmos `feedback`. */
  readonly feedback: Container;
  /** Cosmos `predictions` (the audit records written by classification). */
  readonly predictions: Container;
  readonly now?: () => Date;
}

function statusCodeOf(error: unknown): number | undefined {
  if (!(error instanceof ErrorResponse)) return undefined;
  const code: unknown = error.code;
  const statusCode: unknown = error.statusCode;
  if (typeof code === 'number') return code;
  return typeof statusCode === 'number' ? statusCode : undefined;
}

export class FeedbackService {
  readonly #feedback: Container;
  readonly #predictions: Container;
  readonly #now: () => Date;

  constructor(targets: FeedbackServiceTargets) {
    this.#feedback = targets.feedback;
    this.#predictions = targets.predictions;
    this.#now = targets.now ?? (() => new Date());
  }

  /** Parses, then records. Throws `FeedbackRejectedError` for anything that can never be counted. */
  async submitRaw(
    body: unknown,
    meta: { channel: FeedbackRecord['channel']; messageId: string | null },
  ): Promise<FeedbackResult> {
    const parsed = parseFeedback(body);
    if (!parsed.ok) throw new FeedbackRejectedError('malformed', parsed.problems.join('; '));
    return this.submit(parsed.value, meta);
  }

  async submit(
    input: FeedbackInput,
    meta: { channel: FeedbackRecord['channel']; messageId: string | null },
  ): Promise<FeedbackResult> {
    const existing = await this.get(input.predictionId);
    if (existing !== undefined) return this.#duplicateOf(existing, input);
    const prediction = await this.#readPrediction(input.predictionId);
    if (prediction === undefined) {
      throw new FeedbackRejectedError(
        'unknown-prediction',
        `no prediction '${input.predictionId}' is recorded`,
      );
    }
    const shadow = await this.#readPrediction(shadowPredictionId(input.predictionId));
    const record: FeedbackRecord = {
      id: input.predictionId,
      predictionId: input.predictionId,
      hsCode: input.hsCode,
      source: input.source,
      filedAt: input.filedAt,
      receivedAt: this.#now().toISOString(),
      channel: meta.channel,
      messageId: meta.messageId,
      servedAt: prediction.createdAt,
      served: outcomeOf(prediction, input.hsCode),
      shadow: shadow === undefined ? null : outcomeOf(shadow, input.hsCode),
    };
    try {
      await this.#feedback.items.create(record);
    } catch (error: unknown) {
      if (statusCodeOf(error) !== 409) throw error;
      // Another delivery of the same feedback won the create between our read and write.
      const winner = await this.get(input.predictionId);
      if (winner === undefined) throw error;
      return this.#duplicateOf(winner, input);
    }
    return { outcome: 'recorded', record };
  }

  /**
   * Keeps a rejected message's reason (upsert by message id: every redelivery of the same message rewrites the
   * same record, with its latest delivery count).
   */
  async recordRejection(
    error: FeedbackRejectedError,
    meta: { messageId: string; deliveryCount: number | null; body: unknown },
  ): Promise<FeedbackRejectionRecord> {
    const id = rejectionRecordId(meta.messageId);
    const json = JSON.stringify(meta.body) ?? String(meta.body);
    const record: FeedbackRejectionRecord = {
      id,
      predictionId: id,
      kind: 'rejection',
      messageId: meta.messageId,
      reason: error.deadLetterReason,
      description: error.deadLetterErrorDescription,
      deliveryCount: meta.deliveryCount,
      body: json.slice(0, REJECTED_BODY_MAX_CHARS),
      rejectedAt: this.#now().toISOString(),
    };
    await this.#feedback.items.upsert(record);
    return record;
  }

  async rejection(messageId: string): Promise<FeedbackRejectionRecord | undefined> {
    const id = rejectionRecordId(messageId);
    const { resource } = await this.#feedback.item(id, id).read<FeedbackRejectionRecord>();
    return resource === undefined ? undefined : stripSystem(resource);
  }

  async get(predictionId: string): Promise<FeedbackRecord | undefined> {
    const { resource } = await this.#feedback.item(predictionId, predictionId).read<FeedbackRecord>();
    return resource === undefined ? undefined : stripSystem(resource);
  }

  /** Feedback on predictions served at or after `since`, for an experiment's aggregation. */
  async servedSince(since: string): Promise<FeedbackRecord[]> {
    const { resources } = await this.#feedback.items
      .query<FeedbackRecord>({
        query: 'SELECT * FROM f WHERE f.servedAt >= @since',
        parameters: [{ name: '@since', value: since }],
      })
      .fetchAll();
    return resources.map(stripSystem);
  }

  #duplicateOf(existing: FeedbackRecord, input: FeedbackInput): FeedbackResult {
    if (existing.hsCode !== input.hsCode) {
      throw new FeedbackRejectedError(
        'conflicting-feedback',
        `prediction '${input.predictionId}' already has feedback ${existing.hsCode}; ${input.hsCode} is not counted`,
      );
    }
    return { outcome: 'duplicate', record: existing };
  }

  async #readPrediction(id: string): Promise<PredictionRecord | undefined> {
    const { resource } = await this.#predictions.item(id, id).read<PredictionRecord>();
    return resource;
  }
}

function outcomeOf(prediction: PredictionRecord, filedCode: string): ModelOutcome {
  const predictedCode = prediction.codes[0]?.code ?? null;
  return {
    modelVersion: prediction.modelVersion,
    arm: prediction.arm,
    predictedCode,
    correct:
      predictedCode === null
        ? { hs2: false, hs4: false, hs6: false }
        : correctnessByLevel(predictedCode, filedCode),
    latencyMs: prediction.latency.totalMs,
    review: prediction.decision.outcome === 'review',
  };
}

function stripSystem<T extends object>(resource: T): T {
  const copy: Record<string, unknown> = { ...(resource as Record<string, unknown>) };
  for (const key of Object.keys(copy)) if (key.startsWith('_')) delete copy[key];
  return copy as T;
}
