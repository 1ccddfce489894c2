/**
 * Failed scorings inside a running experiment. A failed request leaves no prediction record, so without these
 * documents the error-rate guardrail would always see zero errors. Serving writes one document per failed
 * scoring of one arm (Cosmos `experiments`, kind `arm-failure`), naming the items it failed on; the decision
 * rebuilds each arm's error count from them, like every other count, at every check.
 *
 * What the caller sees: in split mode a failing challenger is replaced by the champion for the items it was
 * assigned (the caller gets an answer; the champion's fallback answers are excluded from the champion arm's
 * counts, since they were not assigned to it). In shadow mode the challenger scores off the response path and its
 * failure never reaches the caller. A champion failure fails the request, as it does without an experiment, and
 * counts as a champion error, so that failures shared by both arms (the host, the storage) cancel out.
 */
import type { Container } from '@azure/cosmos';

export type ExperimentArm = 'champion' | 'challenger';

/** One failed scoring, as serving reports it. */
export interface ArmFailure {
  readonly experimentId: string;
  readonly arm: ExperimentArm;
  /** The items the arm failed on (the served prediction ids; the shadow ids in shadow mode). */
  readonly predictionIds: readonly string[];
  /** From the start of the request to the failure. */
  readonly latencyMs: number;
  readonly error: unknown;
}

/** The stored form (Cosmos `experiments`, partition key = id). */
export interface ArmFailureRecord {
  readonly id: string;
  readonly kind: 'arm-failure';
  readonly experimentId: string;
  readonly arm: ExperimentArm;
  readonly predictionIds: readonly string[];
  readonly latencyMs: number;
  readonly message: string;
  readonly at: string;
}

/** Where serving reports failures: off the response path, so recording never delays or fails a request. */
export interface ArmFailureSink {
  record(failure: ArmFailure): void;
  /** Resolves once every failure reported so far is stored (or its storing failed and was logged). */
  idle(): Promise<void>;
}

export function armFailureRecord(failure: ArmFailure, at: Date): ArmFailureRecord {
  if (failure.predictionIds.length === 0) throw new RangeError('a failure names at least one item');
  return {
    // Prediction ids are unique per item and an item is scored once per arm: the id cannot collide.
    id: `${failure.experimentId}:failure:${failure.arm}:${failure.predictionIds[0]!}`,
    kind: 'arm-failure',
    experimentId: failure.experimentId,
    arm: failure.arm,
    predictionIds: failure.predictionIds,
    latencyMs: Math.max(0, failure.latencyMs),
    message: failure.error instanceof Error ? failure.error.message : String(failure.error),
    at: at.toISOString(),
  };
}

/**
 * Stores failures in the `experiments` container. A failure that cannot be stored is logged as an error: the
 * guardrail then undercounts that arm's errors, and the log says by how many items.
 */
export function cosmosArmFailureSink(
  experiments: Container,
  log: (level: 'error', message: string) => void,
  now: () => Date = () => new Date(),
): ArmFailureSink {
  const pending = new Set<Promise<void>>();
  return {
    record: (failure) => {
      const record = armFailureRecord(failure, now());
      const write = experiments.items
        .upsert(record)
        .then(() => undefined)
        .catch((error: unknown) => {
          log(
            'error',
            `could not record the ${record.arm} failure of ${record.predictionIds.length} item(s) in experiment ` +
              `${record.experimentId}: ${error instanceof Error ? error.message : String(error)}`,
          );
        })
        .finally(() => pending.delete(write));
      pending.add(write);
    },
    idle: async () => {
      while (pending.size > 0) await Promise.all([...pending]);
    },
  };
}

/** Every failure recorded for one experiment. */
export async function readArmFailures(
  experiments: Container,
  experimentId: string,
): Promise<ArmFailureRecord[]> {
  const { resources } = await experiments.items
    .query<ArmFailureRecord>({
      query: "SELECT * FROM e WHERE e.kind = 'arm-failure' AND e.experimentId = @id",
      parameters: [{ name: '@id', value: experimentId }],
    })
    .fetchAll();
  return resources;
}

/** What `observeArm` needs of a model provider: `ModelProvider.withModel`. */
export interface ScoringProvider<M> {
  withModel<T>(work: (model: M) => Promise<T>): Promise<T>;
}

/**
 * `provider.withModel(work)` for one arm; if it fails inside a running experiment (a sink is given), the failure
 * is reported for that arm before the error goes on to the caller. `describe` runs only on failure, so the
 * success path pays for nothing but the call.
 */
export async function observeArm<M, T>(
  sink: ArmFailureSink | undefined,
  describe: () => Omit<ArmFailure, 'latencyMs' | 'error'>,
  startedAt: number,
  provider: ScoringProvider<M>,
  work: (model: M) => Promise<T>,
): Promise<T> {
  try {
    return await provider.withModel(work);
  } catch (error: unknown) {
    sink?.record({ ...describe(), latencyMs: performance.now() - startedAt, error });
    throw error;
  }
}

/**
 * Split mode: the challenger's answer, or, when it fails (its failure already reported by `observeArm`), the
 * champion's for the same items. `onFallback` is told, so the fallback is visible in the logs.
 */
export async function answerOrFallBack<T>(
  challenger: () => Promise<T>,
  champion: () => Promise<T>,
  onFallback: (error: unknown) => void,
): Promise<T> {
  try {
    return await challenger();
  } catch (error: unknown) {
    onFallback(error);
    return champion();
  }
}
