/**
 * The experiment runner's storage side. An experiment document (Cosmos `experiments`) names the champion and
 * challenger versions, the mode and the start time; its counts are REBUILT from the feedback, prediction and
 * arm-failure records (`arm-failures.ts`) at every decision rather than incremented, so a redelivered feedback
 * message or a retried decision can never count anything twice (a feedback document per prediction is the only
 * unit of counting). The decision itself is the pure `decideExperiment`; this module applies it: promote (alias
 * swap, old champion retired), reject, or record "keep collecting", each with its statistics in the registry log
 * and on the lifecycle topic. An experiment whose champion was replaced underneath it is closed as stale.
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
import { DEFAULT_REPAIR_MIN_AGE_MS, type ModelRegistry, type RegistryRepair } from '../registry/registry';
import { RegistryConflictError, type Actor } from '../registry/types';
import { readArmFailures, type ArmFailureRecord } from './arm-failures';
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
  /** Why a stale experiment was closed without a verdict, e.g. "champion changed from v1 to v2". */
  readonly closedReason?: string;
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
  readonly id: string;
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
  /**
   * Age (ms) below which an alias move's missing status writes or log entry count as still in flight, not lost,
   * when the decision run reconciles the registry first. Default DEFAULT_REPAIR_MIN_AGE_MS (60 s).
   */
  readonly repairMinAgeMs?: number;
}

/** One run of the decision timer: the registry repairs it made first, then each experiment's outcome. */
export interface DecisionRun {
  readonly repairs: readonly RegistryRepair[];
  readonly outcomes: readonly DecisionOutcome[];
  readonly failures: readonly { readonly id: string; readonly error: Error }[];
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
    const id = experimentIdFor(input.challengerVersion);
    // Checked before the challenger alias moves, so a refused start leaves no challenger without an experiment.
    const earlier = await this.get(id);
    if (earlier !== undefined) {
      throw new RegistryConflictError(
        `experiment ${id} already exists (${earlier.record.status}); a version gets one experiment`,
      );
    }
    const record: ExperimentRecord = {
      id,
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
        policy: record.policy,
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

  /**
   * The experiment's counts now, from its feedback, prediction and failure records. Each item an arm failed on is
   * one failed request of that arm. In split mode the champion's fallback answers for a failed challenger's items
   * are left out of the champion arm (requests and outcomes): those items were assigned to the challenger.
   */
  async state(record: ExperimentRecord): Promise<ExperimentState> {
    const [feedback, requests, failures] = await Promise.all([
      this.#t.feedback.servedSince(record.startedAt),
      this.#requestsSince(record.startedAt),
      readArmFailures(this.#t.experiments, record.id),
    ]);
    const champion = record.championVersion;
    const challenger = record.challengerVersion;
    const fellBack = new Set(
      failures.filter((f) => f.arm === 'challenger').flatMap((failure) => failure.predictionIds),
    );
    // A fallback that failed too is the challenger's failure, already counted; it is not the champion's.
    const failed = (arm: ArmFailureRecord['arm']) =>
      failures
        .filter((f) => f.arm === arm)
        .flatMap((f) =>
          f.predictionIds
            .filter((id) => arm === 'challenger' || !fellBack.has(id))
            .map(() => ({ latencyMs: f.latencyMs, error: true, review: false })),
        );
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
      for (const observation of failed('champion')) {
        state = { ...state, champion: addRequest(state.champion, observation) };
      }
      for (const observation of failed('challenger')) {
        state = { ...state, challenger: addRequest(state.challenger, observation) };
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
      if (fellBack.has(item.predictionId)) continue;
      if (version === champion || version === challenger)
        state = addSplitOutcome(state, version, item.served.correct);
    }
    for (const row of requests) {
      if (row.modelVersion !== champion && row.modelVersion !== challenger) continue;
      if (fellBack.has(row.id)) continue;
      state = addSplitRequest(state, row.modelVersion, {
        latencyMs: row.latencyMs,
        error: false,
        review: row.decision === 'review',
      });
    }
    for (const observation of failed('champion')) state = addSplitRequest(state, champion, observation);
    for (const observation of failed('challenger')) state = addSplitRequest(state, challenger, observation);
    return state;
  }

  /** The current statistics and what the decision would be, without acting (the experiment page). */
  async evaluate(record: ExperimentRecord): Promise<ExperimentDecision> {
    return decideExperiment(await this.state(record), decisionPolicy(record.policy));
  }

  /**
   * Decides one running experiment and applies the outcome. The experiment document is updated with If-Match, and
   * promotion passes the experiment's champion as the expected one: a second decider racing on the same
   * experiment, or a manual promotion in between, makes this one lose instead of acting twice. An experiment
   * whose champion no longer serves (a manual promotion or rollback, another experiment's promotion) compares
   * against the wrong model: it is closed as stale instead of decided (see `#supersede`).
   */
  async decide(id: string): Promise<DecisionOutcome | undefined> {
    const found = await this.get(id);
    if (found === undefined || found.record.status !== 'running') return undefined;
    const { record, etag } = found;
    const state = await this.state(record);
    const decision = decideExperiment(state, decisionPolicy(record.policy));
    const servingChampion = await this.#championNow();
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
    let status: ExperimentRecord['status'] = 'running';
    // Claim this check first: a concurrent decider that read the same etag fails here and acts on nothing.
    const claimed: ExperimentRecord = {
      ...record,
      checks: record.checks + 1,
      lastDecision: { at, action: decision.action, reasons: decision.reasons },
    };
    await this.#replace(claimed, etag);
    if (servingChampion !== record.championVersion) {
      return this.#supersede(claimed, decision, evidence, at, servingChampion, null);
    }
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
        return this.#supersede(claimed, decision, evidence, at, await this.#championNow(), error.message);
      }
    } else if (decision.action === 'reject') {
      await this.#t.registry.rejectChallenger(record.challengerVersion, { actor: DECIDER, reason, evidence });
      status = 'rejected';
    } else {
      await this.#t.registry.recordDecision(record.challengerVersion, { actor: DECIDER, reason, evidence });
    }
    const experiment: ExperimentRecord = { ...claimed, status, endedAt: status === 'running' ? null : at };
    if (status !== 'running') await this.#t.experiments.item(record.id, record.id).replace(experiment);
    const applied = decision.action;
    await this.#t.events.publish({
      type:
        applied === 'promote'
          ? 'model.promoted'
          : applied === 'reject'
            ? 'model.rejected'
            : 'experiment.checked',
      at,
      experimentId: record.id,
      champion: applied === 'promote' ? record.challengerVersion : record.championVersion,
      challenger: record.challengerVersion,
      details: { action: decision.action, reasons: decision.reasons, statistics: decision.statistics },
    });
    return { experiment, decision, applied };
  }

  /**
   * Closes an experiment that can no longer be decided: its champion was replaced underneath it, or its promotion
   * was refused. The challenger was not shown to be worse, so it is withdrawn rather than rejected: the alias is
   * emptied and the version is a candidate again, to be tried against the new champion. If it no longer holds the
   * alias (it was itself promoted by hand), only the audit entry is written. The registry goes first and the
   * experiment document second, so a crash in between leaves the experiment running and the next check finishes
   * the job.
   */
  async #supersede(
    claimed: ExperimentRecord,
    decision: ExperimentDecision,
    evidence: Readonly<Record<string, unknown>>,
    at: string,
    servingChampion: string | null,
    refusal: string | null,
  ): Promise<DecisionOutcome> {
    const why =
      servingChampion !== claimed.championVersion
        ? `champion changed from ${claimed.championVersion} to ${servingChampion ?? 'none'}`
        : `the promotion was refused: ${refusal ?? 'no reason given'}`;
    const input = {
      actor: DECIDER,
      reason: `experiment ${claimed.id} closed as stale: ${why}`,
      evidence: {
        ...evidence,
        stale: {
          why,
          experimentChampion: claimed.championVersion,
          servingChampion,
          wouldDecide: decision.action,
        },
      },
    };
    const challengerAlias = (await this.#t.registry.alias('challenger'))?.modelVersion ?? null;
    if (challengerAlias === claimed.challengerVersion) {
      await this.#t.registry.withdrawChallenger(claimed.challengerVersion, input);
    } else {
      await this.#t.registry.recordDecision(claimed.challengerVersion, input);
    }
    const experiment: ExperimentRecord = { ...claimed, status: 'stale', endedAt: at, closedReason: why };
    await this.#t.experiments.item(claimed.id, claimed.id).replace(experiment);
    await this.#t.events.publish({
      type: 'experiment.stale',
      at,
      experimentId: claimed.id,
      champion: servingChampion,
      challenger: claimed.challengerVersion,
      details: {
        reason: why,
        experimentChampion: claimed.championVersion,
        servingChampion,
        wouldDecide: decision.action,
        reasons: decision.reasons,
      },
    });
    return { experiment, decision, applied: 'stale' };
  }

  /**
   * `start` moves the challenger alias, then creates the experiment document; a crash in between leaves a
   * challenger that no experiment decides and that blocks every later experiment. The alias move carries the
   * experiment's id, mode, champion, share and policy, so the experiment is opened as it was meant to be, from the
   * time of the move (if its champion has changed since, the check that follows closes it as stale).
   */
  async #openLostExperiment(): Promise<RegistryRepair | undefined> {
    const alias = await this.#t.registry.alias('challenger');
    const transition = alias?.transition;
    if (alias?.modelVersion == null || transition?.action !== 'challenger-set') return undefined;
    const minAgeMs = this.#t.repairMinAgeMs ?? DEFAULT_REPAIR_MIN_AGE_MS;
    if (this.#now().getTime() - Date.parse(alias.movedAt) < minAgeMs) return undefined;
    const { experimentId, mode, champion, challengerShare, policy } = transition.evidence;
    if (typeof experimentId !== 'string' || (await this.get(experimentId)) !== undefined) return undefined;
    if ((mode !== 'shadow' && mode !== 'split') || typeof champion !== 'string') {
      return {
        alias: 'challenger',
        revision: alias.revision,
        changes: [],
        unverifiable: `experiment ${experimentId} has no document and its challenger move does not say how to open it`,
      };
    }
    const record: ExperimentRecord = {
      id: experimentId,
      kind: 'experiment',
      mode,
      championVersion: champion,
      challengerVersion: alias.modelVersion,
      challengerShare: typeof challengerShare === 'number' ? challengerShare : null,
      startedAt: alias.movedAt,
      status: 'running',
      policy: typeof policy === 'object' && policy !== null ? policy : {},
      checks: 0,
      lastDecision: null,
      endedAt: null,
    };
    await this.#t.experiments.items.create(record);
    await this.#t.events.publish({
      type: 'experiment.started',
      at: this.#now().toISOString(),
      experimentId,
      champion,
      challenger: alias.modelVersion,
      details: { mode, challengerShare: record.challengerShare, repairedFrom: 'challenger alias move' },
    });
    return {
      alias: 'challenger',
      revision: alias.revision,
      changes: [`opened experiment ${experimentId}, which its challenger move had no document for`],
    };
  }

  async #championNow(): Promise<string | null> {
    return (await this.#t.registry.alias('champion'))?.modelVersion ?? null;
  }

  /**
   * The decision timer's run: first reconcile the registry (complete alias moves a crash left half done, so no
   * decision reads an alias whose status or log disagrees), then decide every running experiment. One failing
   * experiment does not stop the others, but is reported; a failing reconciliation stops the run.
   */
  async decideAll(): Promise<DecisionRun> {
    const repairs = [...(await this.#t.registry.reconcile({ minAgeMs: this.#t.repairMinAgeMs }))];
    const opened = await this.#openLostExperiment();
    if (opened !== undefined) repairs.push(opened);
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
    return { repairs, outcomes, failures };
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
          'SELECT p.id, p.modelVersion, p.latency.totalMs AS latencyMs, p.decision.outcome AS decision FROM p WHERE p.createdAt >= @since',
        parameters: [{ name: '@since', value: since }],
      })
      .fetchAll();
    return resources;
  }
}
