/**
 * The promotion decision: from the experiment's counts and a policy, promote a challenger, keep collecting, or
 * reject (keep the champion). Pure and deterministic, so the timer function can call it as often as it likes and
 * the audit log can store its full output as the evidence of each decision.
 *
 * Promotion needs all of: always-valid evidence that the challenger is more accurate at the policy's HS level
 * (e-value ≥ m/α for m challengers; see `sequential.ts`), the minimum sample sizes, the minimum observed effect, no
 * guardrail breach, and (split mode) no sample-ratio mismatch. Rejection comes from evidence that the challenger is
 * LESS accurate, a severe guardrail breach, or the sample budget running out.
 */
import { checkSampleRatio, DEFAULT_SRM_THRESHOLD, type SampleRatioCheck } from './assignment';
import { alwaysValidPValue, pairedEvidence, splitEvidence, type SequentialEvidence } from './sequential';
import {
  type AnovaResult,
  anovaOfProportions,
  type Interval,
  mcnemarExact,
  type McNemarResult,
  pairedDifferenceInterval,
  twoProportionTest,
  type TwoProportionResult,
  wilsonInterval,
} from './statistics';
import {
  type ExperimentState,
  HS_LEVELS,
  type HsLevel,
  histogramPercentile,
  type OperationalCounts,
  type ShadowExperimentState,
  type SplitArmState,
  type SplitExperimentState,
} from './state';

// Local bindings: global lookups are slow inside jest's `vm` contexts, and these run on every decision.
const { exp, log, min } = Math;
const { isInteger } = Number;

/** What the decision may do, and when. Every field has a default (DEFAULT_DECISION_POLICY). */
export interface DecisionPolicy {
  /** Bound on the probability of ever promoting a challenger that is not more accurate. Default 0.05. */
  readonly alpha: number;
  /** HS level the decision is taken at; the other levels are reported. Default 'hs6'. */
  readonly level: HsLevel;
  /**
   * Outcomes with feedback each arm needs before any promotion or evidence-based rejection (shadow: paired items).
   * The e-values do not need it; it keeps guardrails and reported intervals meaningful. Default 200.
   */
  readonly minSamplesPerArm: number;
  /** Shadow mode: discordant pairs needed before a promotion. Default 30. */
  readonly minDiscordantPairs: number;
  /**
   * Smallest observed accuracy gain (challenger − champion, absolute) that justifies a promotion, on top of the
   * statistical evidence. It can only make promotion stricter, so the false-promotion bound holds. Default 0.
   */
  readonly minimumEffect: number;
  /**
   * Outcomes per challenger arm (shadow: paired items) after which an undecided experiment stops and the champion
   * stays (the challenger is rejected as not shown to be better). Default 10,000.
   */
  readonly maxSamplesPerArm: number;
  /** Largest allowed increase of the challenger's p95 latency over the champion's, in ms. Default 50. */
  readonly maxP95LatencyIncreaseMs: number;
  /** Largest allowed increase of the challenger's error rate over the champion's (absolute). Default 0.005. */
  readonly maxErrorRateIncrease: number;
  /** Largest allowed increase of the challenger's review rate over the champion's (absolute). Default 0.05. */
  readonly maxReviewRateIncrease: number;
  /** A guardrail exceeded by more than this multiple of its allowance rejects the challenger. Default 3. */
  readonly severeBreachFactor: number;
  /** Requests each arm needs before its guardrails are judged. Default 200. */
  readonly minRequestsForGuardrails: number;
  /** p-value below which the sample-ratio check blocks promotion (split mode). Default 0.001. */
  readonly srmThreshold: number;
  /** Coverage of the reported confidence intervals. Default 0.95. */
  readonly confidence: number;
}

export const DEFAULT_DECISION_POLICY: DecisionPolicy = Object.freeze({
  alpha: 0.05,
  level: 'hs6',
  minSamplesPerArm: 200,
  minDiscordantPairs: 30,
  minimumEffect: 0,
  maxSamplesPerArm: 10_000,
  maxP95LatencyIncreaseMs: 50,
  maxErrorRateIncrease: 0.005,
  maxReviewRateIncrease: 0.05,
  severeBreachFactor: 3,
  minRequestsForGuardrails: 200,
  srmThreshold: DEFAULT_SRM_THRESHOLD,
  confidence: 0.95,
});

/** The default policy with some fields replaced, validated. */
export function decisionPolicy(overrides: Partial<DecisionPolicy> = {}): DecisionPolicy {
  const policy = { ...DEFAULT_DECISION_POLICY, ...overrides };
  const problems: string[] = [];
  if (!(policy.alpha > 0 && policy.alpha < 1)) problems.push(`alpha must be in (0, 1): ${policy.alpha}`);
  if (!HS_LEVELS.includes(policy.level)) problems.push(`level must be one of ${HS_LEVELS.join(', ')}`);
  for (const field of ['minSamplesPerArm', 'minDiscordantPairs', 'minRequestsForGuardrails'] as const) {
    if (!(isInteger(policy[field]) && policy[field] >= 0)) problems.push(`${field} must be a count`);
  }
  if (!(isInteger(policy.maxSamplesPerArm) && policy.maxSamplesPerArm >= policy.minSamplesPerArm)) {
    problems.push('maxSamplesPerArm must be an integer ≥ minSamplesPerArm');
  }
  for (const field of [
    'minimumEffect',
    'maxP95LatencyIncreaseMs',
    'maxErrorRateIncrease',
    'maxReviewRateIncrease',
  ] as const) {
    if (!(policy[field] >= 0)) problems.push(`${field} must be ≥ 0`);
  }
  if (!(policy.severeBreachFactor >= 1)) problems.push('severeBreachFactor must be ≥ 1');
  if (!(policy.srmThreshold > 0 && policy.srmThreshold < 1)) problems.push('srmThreshold must be in (0, 1)');
  if (!(policy.confidence > 0 && policy.confidence < 1)) problems.push('confidence must be in (0, 1)');
  if (problems.length > 0) throw new RangeError(`invalid decision policy: ${problems.join('; ')}`);
  return Object.freeze(policy);
}

export type ExperimentAction = 'promote' | 'continue' | 'reject';

export type GuardrailMetric = 'p95LatencyMs' | 'errorRate' | 'reviewRate';

/** One guardrail of one challenger against the champion. */
export interface GuardrailReport {
  readonly metric: GuardrailMetric;
  readonly champion: number;
  readonly challenger: number;
  /** Challenger minus champion. */
  readonly increase: number;
  readonly allowance: number;
  /** 'insufficient-data' until both arms have minRequestsForGuardrails requests. */
  readonly status: 'ok' | 'breach' | 'severe' | 'insufficient-data';
}

/** Per-arm accuracy at one level. */
export interface ArmAccuracy {
  readonly id: string;
  readonly role: 'champion' | 'challenger';
  readonly outcomes: number;
  readonly correct: number;
  /** Wilson interval; null while the arm has no outcomes. */
  readonly accuracy: Interval | null;
}

/** Fixed-sample comparison of one challenger with the champion at one level (for display and audit). */
export interface LevelComparison {
  readonly challengerId: string;
  /** Shadow mode. */
  readonly mcnemar?: McNemarResult;
  /** Shadow mode: Newcombe's paired interval for challenger − champion accuracy; null with no pairs. */
  readonly pairedDifference?: Interval | null;
  /** Split mode: null while either arm has no outcomes. */
  readonly twoProportion?: TwoProportionResult | null;
}

export interface LevelReport {
  readonly level: HsLevel;
  readonly arms: readonly ArmAccuracy[];
  readonly comparisons: readonly LevelComparison[];
  /** One-way ANOVA across all arms (split mode, three or more arms, each with two or more outcomes). */
  readonly anova: AnovaResult | null;
}

/** The sequential evidence and verdict for one challenger at the decision level. */
export interface ChallengerEvaluation {
  readonly challengerId: string;
  readonly verdict: ExperimentAction;
  readonly reasons: readonly string[];
  readonly outcomes: number;
  /** Observed accuracy gain over the champion at the decision level (NaN with no outcomes). */
  readonly observedEffect: number;
  readonly evidence: SequentialEvidence & {
    /** ln of the e-value promotion needs: ln(challengers / α). */
    readonly logThreshold: number;
    readonly eValueBetter: number;
    readonly eValueWorse: number;
    /** min(1, 1/E) for "challenger better": valid at any look. */
    readonly alwaysValidPValueBetter: number;
  };
  readonly guardrails: readonly GuardrailReport[];
}

export interface ExperimentStatistics {
  readonly mode: ExperimentState['mode'];
  readonly decisionLevel: HsLevel;
  readonly alpha: number;
  readonly levels: Readonly<Record<HsLevel, LevelReport>>;
  readonly challengers: readonly ChallengerEvaluation[];
  /** Split mode: the SRM check on requests and on outcomes with feedback (a feedback gap in one arm biases too). */
  readonly sampleRatio: { readonly requests: SampleRatioCheck; readonly outcomes: SampleRatioCheck } | null;
}

export interface ExperimentDecision {
  readonly action: ExperimentAction;
  /** The challenger to promote (promote), or the one that was decided on (shadow, or the only challenger). */
  readonly challengerId: string | null;
  readonly reasons: readonly string[];
  readonly statistics: ExperimentStatistics;
}

function rate(numerator: number, denominator: number): number {
  return denominator === 0 ? NaN : numerator / denominator;
}

function judge(
  metric: GuardrailMetric,
  champion: number,
  challenger: number,
  allowance: number,
  enoughData: boolean,
  severeFactor: number,
): GuardrailReport {
  const increase = challenger - champion;
  let status: GuardrailReport['status'] = 'ok';
  if (!enoughData || Number.isNaN(increase)) status = 'insufficient-data';
  else if (increase > allowance * severeFactor) status = 'severe';
  else if (increase > allowance) status = 'breach';
  return { metric, champion, challenger, increase, allowance, status };
}

/**
 * Guardrails compare point estimates: the allowances are operational budgets, not hypotheses, and latency p95 is
 * read conservatively from the histogram. They are judged only with enough requests so that noise rarely trips
 * them.
 */
export function evaluateGuardrails(
  champion: OperationalCounts,
  challenger: OperationalCounts,
  policy: DecisionPolicy,
): GuardrailReport[] {
  const enoughData =
    champion.requests >= policy.minRequestsForGuardrails &&
    challenger.requests >= policy.minRequestsForGuardrails;
  const answered = (counts: OperationalCounts): number => counts.requests - counts.errors;
  return [
    judge(
      'p95LatencyMs',
      histogramPercentile(champion.latencyHistogram, 0.95),
      histogramPercentile(challenger.latencyHistogram, 0.95),
      policy.maxP95LatencyIncreaseMs,
      enoughData,
      policy.severeBreachFactor,
    ),
    judge(
      'errorRate',
      rate(champion.errors, champion.requests),
      rate(challenger.errors, challenger.requests),
      policy.maxErrorRateIncrease,
      enoughData,
      policy.severeBreachFactor,
    ),
    judge(
      'reviewRate',
      rate(champion.reviews, answered(champion)),
      rate(challenger.reviews, answered(challenger)),
      policy.maxReviewRateIncrease,
      enoughData,
      policy.severeBreachFactor,
    ),
  ];
}

function accuracyOf(
  id: string,
  role: ArmAccuracy['role'],
  correct: number,
  outcomes: number,
  confidence: number,
) {
  return {
    id,
    role,
    outcomes,
    correct,
    accuracy: outcomes > 0 ? wilsonInterval({ successes: correct, trials: outcomes }, confidence) : null,
  } satisfies ArmAccuracy;
}

function shadowLevelReport(
  state: ShadowExperimentState,
  level: HsLevel,
  policy: DecisionPolicy,
): LevelReport {
  const table = state.pairs[level];
  const n = table.bothCorrect + table.championOnly + table.challengerOnly + table.bothWrong;
  return {
    level,
    arms: [
      accuracyOf(state.championId, 'champion', table.bothCorrect + table.championOnly, n, policy.confidence),
      accuracyOf(
        state.challengerId,
        'challenger',
        table.bothCorrect + table.challengerOnly,
        n,
        policy.confidence,
      ),
    ],
    comparisons: [
      {
        challengerId: state.challengerId,
        mcnemar: mcnemarExact(table.championOnly, table.challengerOnly),
        pairedDifference: n > 0 ? pairedDifferenceInterval(table, policy.confidence) : null,
      },
    ],
    anova: null,
  };
}

function splitLevelReport(state: SplitExperimentState, level: HsLevel, policy: DecisionPolicy): LevelReport {
  const champion = championArm(state);
  const arms = state.arms.map((arm) =>
    accuracyOf(arm.id, arm.role, arm.correct[level], arm.outcomes, policy.confidence),
  );
  const comparisons = state.arms
    .filter((arm) => arm.role === 'challenger')
    .map((arm) => ({
      challengerId: arm.id,
      twoProportion:
        arm.outcomes > 0 && champion.outcomes > 0
          ? twoProportionTest(
              { successes: arm.correct[level], trials: arm.outcomes },
              { successes: champion.correct[level], trials: champion.outcomes },
              policy.confidence,
            )
          : null,
    }));
  const anova =
    state.arms.length >= 3 && state.arms.every((arm) => arm.outcomes >= 2)
      ? anovaOfProportions(state.arms.map((arm) => ({ successes: arm.correct[level], trials: arm.outcomes })))
      : null;
  return { level, arms, comparisons, anova };
}

function championArm(state: SplitExperimentState): SplitArmState {
  const champions = state.arms.filter((arm) => arm.role === 'champion');
  if (champions.length !== 1) throw new RangeError('a split experiment needs exactly one champion arm');
  return champions[0]!;
}

interface ChallengerInputs {
  readonly challengerId: string;
  readonly outcomes: number;
  readonly championOutcomes: number;
  readonly observedEffect: number;
  readonly discordant: number | null;
  readonly evidence: SequentialEvidence;
  readonly guardrails: GuardrailReport[];
  readonly promotionBlockers: readonly string[];
}

function evaluateChallenger(
  inputs: ChallengerInputs,
  challengers: number,
  policy: DecisionPolicy,
): ChallengerEvaluation {
  const logThreshold = log(challengers / policy.alpha);
  const { evidence, guardrails } = inputs;
  const reasons: string[] = [];
  const enoughSamples = min(inputs.outcomes, inputs.championOutcomes) >= policy.minSamplesPerArm;
  const severe = guardrails.filter((g) => g.status === 'severe');
  const breached = guardrails.filter((g) => g.status === 'breach' || g.status === 'severe');
  const strongBetter = evidence.logEChallengerBetter >= logThreshold;
  const strongWorse = evidence.logEChallengerWorse >= log(1 / policy.alpha);
  let verdict: ExperimentAction = 'continue';

  const describe = (g: GuardrailReport): string =>
    `${g.metric} ${g.challenger.toFixed(4)} vs champion ${g.champion.toFixed(4)} (+${g.increase.toFixed(4)}, allowed +${g.allowance})`;

  if (severe.length > 0) {
    verdict = 'reject';
    reasons.push(...severe.map((g) => `severe guardrail breach: ${describe(g)}`));
  } else if (enoughSamples && strongWorse) {
    verdict = 'reject';
    reasons.push(
      `evidence that the challenger is less accurate at ${policy.level}: e-value ${exp(evidence.logEChallengerWorse).toPrecision(4)} ≥ ${(1 / policy.alpha).toPrecision(4)}`,
    );
  } else {
    const blockers: string[] = [...inputs.promotionBlockers];
    if (!enoughSamples) {
      blockers.push(
        `${min(inputs.outcomes, inputs.championOutcomes)} outcomes per arm, minimum ${policy.minSamplesPerArm}`,
      );
    }
    if (inputs.discordant !== null && inputs.discordant < policy.minDiscordantPairs) {
      blockers.push(`${inputs.discordant} discordant pairs, minimum ${policy.minDiscordantPairs}`);
    }
    if (!strongBetter) {
      blockers.push(
        `not enough evidence yet: e-value ${exp(evidence.logEChallengerBetter).toPrecision(4)} < ${exp(logThreshold).toPrecision(4)}`,
      );
    }
    if (!(inputs.observedEffect >= policy.minimumEffect)) {
      blockers.push(
        `observed gain ${inputs.observedEffect.toFixed(4)} below the minimum effect ${policy.minimumEffect}`,
      );
    }
    blockers.push(...breached.map((g) => `guardrail breach blocks promotion: ${describe(g)}`));
    if (blockers.length === 0) {
      verdict = 'promote';
      reasons.push(
        `challenger more accurate at ${policy.level}: gain ${inputs.observedEffect.toFixed(4)}, e-value ${exp(evidence.logEChallengerBetter).toPrecision(4)} ≥ ${exp(logThreshold).toPrecision(4)}`,
      );
    } else if (inputs.outcomes >= policy.maxSamplesPerArm) {
      verdict = 'reject';
      reasons.push(
        `sample budget of ${policy.maxSamplesPerArm} per arm exhausted without a promotion; keeping the champion`,
      );
      reasons.push(...blockers);
    } else {
      reasons.push(...blockers);
    }
  }
  return {
    challengerId: inputs.challengerId,
    verdict,
    reasons,
    outcomes: inputs.outcomes,
    observedEffect: inputs.observedEffect,
    evidence: {
      ...evidence,
      logThreshold,
      eValueBetter: exp(evidence.logEChallengerBetter),
      eValueWorse: exp(evidence.logEChallengerWorse),
      alwaysValidPValueBetter: alwaysValidPValue(evidence.logEChallengerBetter),
    },
    guardrails,
  };
}

function shadowEvaluations(state: ShadowExperimentState, policy: DecisionPolicy): ChallengerEvaluation[] {
  const table = state.pairs[policy.level];
  const n = table.bothCorrect + table.championOnly + table.challengerOnly + table.bothWrong;
  return [
    evaluateChallenger(
      {
        challengerId: state.challengerId,
        outcomes: n,
        championOutcomes: n,
        observedEffect: n > 0 ? (table.challengerOnly - table.championOnly) / n : NaN,
        discordant: table.championOnly + table.challengerOnly,
        evidence: pairedEvidence(table.championOnly, table.challengerOnly),
        guardrails: evaluateGuardrails(state.champion, state.challenger, policy),
        promotionBlockers: [],
      },
      1,
      policy,
    ),
  ];
}

function splitEvaluations(
  state: SplitExperimentState,
  policy: DecisionPolicy,
  sampleRatio: NonNullable<ExperimentStatistics['sampleRatio']>,
): ChallengerEvaluation[] {
  const champion = championArm(state);
  const challengers = state.arms.filter((arm) => arm.role === 'challenger');
  const blockers: string[] = [];
  if (sampleRatio.requests.mismatch) {
    blockers.push(`sample ratio mismatch in requests (p = ${sampleRatio.requests.pValue.toExponential(2)})`);
  }
  if (sampleRatio.outcomes.mismatch) {
    blockers.push(
      `sample ratio mismatch in outcomes with feedback (p = ${sampleRatio.outcomes.pValue.toExponential(2)})`,
    );
  }
  return challengers.map((arm) => {
    const level = policy.level;
    const observedEffect =
      arm.outcomes > 0 && champion.outcomes > 0
        ? arm.correct[level] / arm.outcomes - champion.correct[level] / champion.outcomes
        : NaN;
    return evaluateChallenger(
      {
        challengerId: arm.id,
        outcomes: arm.outcomes,
        championOutcomes: champion.outcomes,
        observedEffect,
        discordant: null,
        evidence: splitEvidence(
          { successes: arm.correct[level], trials: arm.outcomes },
          { successes: champion.correct[level], trials: champion.outcomes },
          arm.share / (arm.share + champion.share),
        ),
        guardrails: evaluateGuardrails(champion.operational, arm.operational, policy),
        promotionBlockers: blockers,
      },
      challengers.length,
      policy,
    );
  });
}

/**
 * Decide an experiment. With several challengers (split mode), the promotion threshold is Bonferroni-corrected
 * (m/α) so the chance of promoting any non-better challenger stays ≤ α; if several qualify, the most accurate is
 * promoted. The experiment is rejected when every challenger is rejected.
 */
export function decideExperiment(
  state: ExperimentState,
  policy: DecisionPolicy = DEFAULT_DECISION_POLICY,
): ExperimentDecision {
  let levels: Record<HsLevel, LevelReport>;
  let sampleRatio: ExperimentStatistics['sampleRatio'] = null;
  let challengers: ChallengerEvaluation[];
  if (state.mode === 'shadow') {
    levels = {
      hs2: shadowLevelReport(state, 'hs2', policy),
      hs4: shadowLevelReport(state, 'hs4', policy),
      hs6: shadowLevelReport(state, 'hs6', policy),
    };
    challengers = shadowEvaluations(state, policy);
  } else {
    championArm(state);
    const shares = state.arms.map((arm) => arm.share);
    sampleRatio = {
      requests: checkSampleRatio(
        state.arms.map((arm) => arm.operational.requests),
        shares,
        policy.srmThreshold,
      ),
      outcomes: checkSampleRatio(
        state.arms.map((arm) => arm.outcomes),
        shares,
        policy.srmThreshold,
      ),
    };
    levels = {
      hs2: splitLevelReport(state, 'hs2', policy),
      hs4: splitLevelReport(state, 'hs4', policy),
      hs6: splitLevelReport(state, 'hs6', policy),
    };
    challengers = splitEvaluations(state, policy, sampleRatio);
  }
  const statistics: ExperimentStatistics = {
    mode: state.mode,
    decisionLevel: policy.level,
    alpha: policy.alpha,
    levels,
    challengers,
    sampleRatio,
  };
  const promotable = challengers.filter((c) => c.verdict === 'promote');
  if (promotable.length > 0) {
    const best = promotable.reduce((a, b) => (b.observedEffect > a.observedEffect ? b : a));
    return { action: 'promote', challengerId: best.challengerId, reasons: best.reasons, statistics };
  }
  const only = challengers.length === 1 ? challengers[0]!.challengerId : null;
  if (challengers.every((c) => c.verdict === 'reject')) {
    const reasons = challengers.flatMap((c) => c.reasons.map((r) => (only ? r : `${c.challengerId}: ${r}`)));
    return { action: 'reject', challengerId: only, reasons, statistics };
  }
  const reasons = challengers.flatMap((c) =>
    c.reasons.map((r) => (only ? r : `${c.challengerId} (${c.verdict}): ${r}`)),
  );
  return { action: 'continue', challengerId: only, reasons, statistics };
}
