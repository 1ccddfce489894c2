/**
 * The experiment runner's storage side. An experiment document (Cosmos `experiments`) names the champion and
 * challenger versions, the mode and the start time; its counts are REBUILT from the feedback and prediction
 * records at every decision rather than incremented, so a redelivered feedback message or a retried decision can
 * never count anything twice (a feedback document per prediction is the only unit of counting). The decision
 * itself is the pure `decideExperiment`; this module applies it: promote (alias swap, old champion retired),
 * reject, or record "keep collecting", each with its statistics in the registry log and on the lifecycle topic.
 */
import { ErrorResponse, type Container } from '@azure/cosmos';
import {
  decideExperiment,
  decisionPolicy,
  type DecisionPolicy,
  type ExperimentDecision,
} from '../experiments/decision';
import {
  addPairedOutcome,
  addRequest,
  addSplitOutcome,
  addSplitRequest,
  emptyShadowState,
  emptySplitState,
  type ExperimentState,
} from '../experiments/state';
import type { FeedbackService } from '../feedback/feedback';
import type { ModelRegistry } from '../registry/registry';
import { RegistryConflictError, type Actor } from '../registry/types';
import type { LifecycleEvents } from './events';

export type ExperimentMode = 'shadow' | 'split';

export interface ExperimentRecord {
  readonly id: string;
  readonly kind: 'experiment';
  readonly mode: ExperimentMode;
  readonly championVersion: string;
  readonly challengerVersion: string;
  /** Split mode: the challenger's traffic share. Null in shadow mode. */
  readonly challengerShare: number | null;
  readonly startedAt: string;
  readonly status: 'running' | 'promoted' | 'rejected' | 'stale';
  /** Overrides of DEFAULT_DECISION_POLICY for this experiment. */
  readonly policy: Partial<DecisionPolicy>;
  readonly checks: number;
  readonly lastDecision: {
    readonly at: string;
    readonly action: ExperimentDecision['action'];
    readonly reasons: readonly string[];
  } | null;
  readonly endedAt: string | null;
}

export interface StartExperimentInput {
  readonly challengerVersion: string;
  readonly mode: ExperimentMode;
  readonly challengerShare?: number;
  readonly policy?: Partial<DecisionPolicy>;
  readonly actor: Actor;
  readonly reason: string;
}

/** One served request as the guardrails see it. */
interface RequestRow {
  readonly modelVersion: string;
  readonly latencyMs: number;
  readonly decision: string;
}

export interface ExperimentRunnerTargets {
  readonly experiments: Container;
  /** Cosmos `predictions`, read for the operational counters (latency, review rate). */
  readonly predictions: Container;
  readonly registry: ModelRegistry;
  readonly feedback: FeedbackService;
  readonly events: LifecycleEvents;
  readonly now?: () => Date;
}

export interface DecisionOutcome {
  readonly experiment: ExperimentRecord;
  readonly decision: ExperimentDecision;
  /** What was applied: the decision's action, or 'stale' when the champion changed under the experiment. */
  readonly applied: ExperimentDecision['action'] | 'stale';
}

const DECIDER: Actor = { kind: 'system', id: 'experiments-decision-timer' };

function statusCodeOf(error: unknown): number | undefined {
  if (!(error instanceof ErrorResponse)) return undefined;
  const code: unknown = error.code;
  const statusCode: unknown = error.statusCode;
  if (typeof code === 'number') return code;
  return typeof statusCode === 'number' ? statusCode : undefined;
}

export function experimentIdFor(challengerVersion: string): string {
  return `exp-${challengerVersion}`;
}

export class ExperimentRunner {
  readonly #t: ExperimentRunnerTargets;
  readonly #now: () => Date;

  constructor(targets: ExperimentRunnerTargets) {
    this.#t = targets;
    this.#now = targets.now ?? (() => new Date());
  }

  /** Makes the candidate the challenger against the current champion and opens its experiment. */
  async start(input: StartExperimentInput): Promise<ExperimentRecord> {
    const champion = (await this.#t.registry.alias('champion'))?.modelVersion ?? null;
    if (champion === null)
      throw new RegistryConflictError('there is no champion to run an experiment against');
    if (
      input.mode === 'split' &&
      !(input.challengerShare !== undefined && input.challengerShare > 0 && input.challengerShare < 1)
    ) {
      throw new RangeError('split mode needs a challengerShare in (0, 1)');
    }
    decisionPolicy(input.policy);
    const record: ExperimentRecord = {
      id: experimentIdFor(input.challengerVersion),
      kind: 'experiment',
      mode: input.mode,
      championVersion: champion,
      challengerVersion: input.challengerVersion,
      challengerShare: input.mode === 'split' ? (input.challengerShare ?? null) : null,
      startedAt: this.#now().toISOString(),
      status: 'running',
      policy: input.policy ?? {},
      checks: 0,
      lastDecision: null,
      endedAt: null,
    };
    await this.#t.registry.setChallenger(input.challengerVersion, {
      actor: input.actor,
      reason: input.reason,
      evidence: {
        experimentId: record.id,
        mode: record.mode,
        champion,
        challengerShare: record.challengerShare,
      },
    });
    await this.#t.experiments.items.create(record);
    await this.#t.events.publish({
      type: 'experiment.started',
      at: record.startedAt,
      experimentId: record.id,
      champion,
      challenger: input.challengerVersion,
      details: { mode: record.mode, challengerShare: record.challengerShare },
    });
    return record;
  }

  async get(id: string): Promise<{ record: ExperimentRecord; etag: string } | undefined> {
    const response = await this.#t.experiments.item(id, id).read<ExperimentRecord>();
    if (response.resource === undefined) return undefined;
    const copy: Record<string, unknown> = { ...response.resource };
    for (const key of Object.keys(copy)) if (key.startsWith('_')) delete copy[key];
    return { record: copy as unknown as ExperimentRecord, etag: response.etag };
  }

  async running(): Promise<ExperimentRecord[]> {
    const { resources } = await this.#t.experiments.items
      .query<ExperimentRecord>({
        query: "SELECT * FROM e WHERE e.kind = 'experiment' AND e.status = 'running'",
      })
      .fetchAll();
    return resources;
  }

  /** The experiment's counts now, from its feedback and prediction records. */
  async state(record: ExperimentRecord): Promise<ExperimentState> {
    const [feedback, requests] = await Promise.all([
      this.#t.feedback.servedSince(record.startedAt),
      this.#requestsSince(record.startedAt),
    ]);
    const champion = record.championVersion;
    const challenger = record.challengerVersion;
    if (record.mode === 'shadow') {
      let state = emptyShadowState(champion, challenger);
      for (const item of feedback) {
        if (item.served.modelVersion === champion && item.shadow?.modelVersion === challenger) {
          state = addPairedOutcome(state, item.served.correct, item.shadow.correct);
        }
      }
      for (const row of requests) {
        const observation = { latencyMs: row.latencyMs, error: false, review: row.decision === 'review' };
        if (row.modelVersion === champion)
          state = { ...state, champion: addRequest(state.champion, observation) };
        else if (row.modelVersion === challenger) {
          state = { ...state, challenger: addRequest(state.challenger, observation) };
        }
      }
      return state;
    }
    const share = record.challengerShare ?? 0;
    let state = emptySplitState([
      { id: champion, role: 'champion', share: 1 - share },
      { id: challenger, role: 'challenger', share },
    ]);
    for (const item of feedback) {
      const version = item.served.modelVersion;
      if (version === champion || version === challenger)
        state = addSplitOutcome(state, version, item.served.correct);
    }
    for (const row of requests) {
      if (row.modelVersion !== champion && row.modelVersion !== challenger) continue;
      state = addSplitRequest(state, row.modelVersion, {
        latencyMs: row.latencyMs,
        error: false,
        review: row.decision === 'review',
      });
    }
    return state;
  }

  /** The current statistics and what the decision would be, without acting (the experiment page). */
  async evaluate(record: ExperimentRecord): Promise<ExperimentDecision> {
    return decideExperiment(await this.state(record), decisionPolicy(record.policy));
  }

  /**
   * Decides one running experiment and applies the outcome. The experiment document is updated with If-Match, and
   * promotion passes the experiment's champion as the expected one: a second decider racing on the same
   * experiment, or a manual promotion in between, makes this one lose instead of acting twice.
   */
  async decide(id: string): Promise<DecisionOutcome | undefined> {
    const found = await this.get(id);
    if (found === undefined || found.record.status !== 'running') return undefined;
    const { record, etag } = found;
    const state = await this.state(record);
    const decision = decideExperiment(state, decisionPolicy(record.policy));
    const at = this.#now().toISOString();
    const evidence = {
      experimentId: record.id,
      mode: record.mode,
      champion: record.championVersion,
      challenger: record.challengerVersion,
      check: record.checks + 1,
      reasons: decision.reasons,
      counts: state,
      statistics: decision.statistics,
    };
    const reason = `experiment ${record.id}: ${decision.action} (${decision.reasons.join('; ') || 'no reason given'})`;
    let applied: DecisionOutcome['applied'] = decision.action;
    let status: ExperimentRecord['status'] = 'running';
    // Claim this check first: a concurrent decider that read the same etag fails here and acts on nothing.
    const claimed: ExperimentRecord = {
      ...record,
      checks: record.checks + 1,
      lastDecision: { at, action: decision.action, reasons: decision.reasons },
    };
    await this.#replace(claimed, etag);
    if (decision.action === 'promote') {
      try {
        await this.#t.registry.promote(record.challengerVersion, {
          actor: DECIDER,
          reason,
          evidence,
          expectedChampion: record.championVersion,
        });
        status = 'promoted';
      } catch (error: unknown) {
        if (!(error instanceof RegistryConflictError)) throw error;
        applied = 'stale';
        status = 'stale';
      }
    } else if (decision.action === 'reject') {
      await this.#t.registry.rejectChallenger(record.challengerVersion, { actor: DECIDER, reason, evidence });
      status = 'rejected';
    } else {
      await this.#t.registry.recordDecision(record.challengerVersion, { actor: DECIDER, reason, evidence });
    }
    const experiment: ExperimentRecord = { ...claimed, status, endedAt: status === 'running' ? null : at };
    if (status !== 'running') await this.#t.experiments.item(record.id, record.id).replace(experiment);
    await this.#t.events.publish({
      type:
        applied === 'promote'
          ? 'model.promoted'
          : applied === 'reject'
            ? 'model.rejected'
            : applied === 'stale'
              ? 'experiment.stale'
              : 'experiment.checked',
      at,
      experimentId: record.id,
      champion: applied === 'promote' ? record.challengerVersion : record.championVersion,
      challenger: record.challengerVersion,
      details: { action: decision.action, reasons: decision.reasons, statistics: decision.statistics },
    });
    return { experiment, decision, applied };
  }

  /** Decides every running experiment; one failing experiment does not stop the others, but is reported. */
  async decideAll(): Promise<{ outcomes: DecisionOutcome[]; failures: { id: string; error: Error }[] }> {
    const outcomes: DecisionOutcome[] = [];
    const failures: { id: string; error: Error }[] = [];
    for (const experiment of await this.running()) {
      try {
        const outcome = await this.decide(experiment.id);
        if (outcome !== undefined) outcomes.push(outcome);
      } catch (error: unknown) {
        failures.push({
          id: experiment.id,
          error: error instanceof Error ? error : new Error(String(error)),
        });
      }
    }
    return { outcomes, failures };
  }

  async #replace(record: ExperimentRecord, etag: string): Promise<void> {
    try {
      await this.#t.experiments
        .item(record.id, record.id)
        .replace(record, { accessCondition: { type: 'IfMatch', condition: etag } });
    } catch (error: unknown) {
      if (statusCodeOf(error) === 412) {
        throw new RegistryConflictError(`experiment ${record.id} was decided concurrently`);
      }
      throw error;
    }
  }

  async #requestsSince(since: string): Promise<RequestRow[]> {
    const { resources } = await this.#t.predictions.items
      .query<RequestRow>({
        query:
          'SELECT p.modelVersion, p.latency.totalMs AS latencyMs, p.decision.outcome AS decision FROM p WHERE p.createdAt >= @since',
        parameters: [{ name: '@since', value: since }],
      })
      .fetchAll();
    return resources;
  }
}
