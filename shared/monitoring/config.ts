/**
 * Monitoring settings, read from the environment once like the app's own config (`shared/config.ts`): every
 * malformed value is reported in one error, and each default is documented where it is declared.
 */
import { ConfigError, type Env } from '../config';

export interface MonitoringConfig {
  /** `MONITOR_SCHEDULE`: NCRONTAB schedule of the monitoring timer. Default `0 *\/15 * * * *` (every 15 min). */
  readonly schedule: string;
  /** `MONITOR_WINDOW_MINUTES`: predictions of the last this-many minutes form the window. Default 60. */
  readonly windowMinutes: number;
  /** `MONITOR_MIN_RECORDS`: a model with fewer predictions in the window is not tested. Default 200. */
  readonly minRecords: number;
  /** `MONITOR_FALSE_ALARM_RATE`: α of every drift test and SLO check, per check and run. Default 0.01. */
  readonly falseAlarmRate: number;
  /** `MONITOR_MIN_PSI`: PSI below this never counts as drift, however significant. Default 0.1. */
  readonly minPsi: number;
  /** `MONITOR_MIN_OOV_INCREASE`: absolute rise of the OOV rate below this never counts as drift. Default 0.05. */
  readonly minOovIncrease: number;
  /** `MONITOR_NULL_SIMULATIONS`: simulated no-drift windows behind each PSI/JS threshold. Default 1000. */
  readonly nullSimulations: number;
  /** `MONITOR_REVIEW_RATE_TARGET`: SLO on the share of predictions sent to review. Default 0.35. */
  readonly reviewRateTarget: number;
  /** `MONITOR_LATENCY_P95_MS`: SLO on the p95 of request latency, in ms. Default 500. */
  readonly latencyP95Ms: number;
  /** `MONITOR_LATENCY_P99_MS`: SLO on the p99 of request latency, in ms. Default 1500. */
  readonly latencyP99Ms: number;
  /** `MONITOR_RETRAIN_COOLDOWN_MINUTES`: after a drift-started retraining, no other starts for this long.
   * Default 1440 (24 h). */
  readonly retrainCooldownMinutes: number;
}

export const MONITORING_SETTING = {
  schedule: 'MONITOR_SCHEDULE',
  windowMinutes: 'MONITOR_WINDOW_MINUTES',
  minRecords: 'MONITOR_MIN_RECORDS',
  falseAlarmRate: 'MONITOR_FALSE_ALARM_RATE',
  minPsi: 'MONITOR_MIN_PSI',
  minOovIncrease: 'MONITOR_MIN_OOV_INCREASE',
  nullSimulations: 'MONITOR_NULL_SIMULATIONS',
  reviewRateTarget: 'MONITOR_REVIEW_RATE_TARGET',
  latencyP95Ms: 'MONITOR_LATENCY_P95_MS',
  latencyP99Ms: 'MONITOR_LATENCY_P99_MS',
  retrainCooldownMinutes: 'MONITOR_RETRAIN_COOLDOWN_MINUTES',
} as const;

export const DEFAULT_MONITOR_SCHEDULE = '0 */15 * * * *';

type NumberRule = { readonly min: number; readonly max: number; readonly integer: boolean };

function readNumber(env: Env, name: string, fallback: number, rule: NumberRule, problems: string[]): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  const inRange = Number.isFinite(value) && value >= rule.min && value <= rule.max;
  if (!inRange || (rule.integer && !Number.isInteger(value))) {
    problems.push(
      `${name}: must be ${rule.integer ? 'an integer' : 'a number'} in [${rule.min}, ${rule.max}], got '${raw}'`,
    );
    return fallback;
  }
  return value;
}

const COUNT = { min: 1, max: 1e9, integer: true } as const;
const SHARE = { min: 0, max: 1, integer: false } as const;
const OPEN_SHARE = { min: 1e-9, max: 1 - 1e-9, integer: false } as const;

/** Reads every monitoring setting; throws one `ConfigError` naming each bad one. */
export function loadMonitoringConfig(env: Env): MonitoringConfig {
  const problems: string[] = [];
  const schedule = env[MONITORING_SETTING.schedule]?.trim() || DEFAULT_MONITOR_SCHEDULE;
  if (schedule.split(/\s+/).length !== 6 && !/^\d+(\.\d{2})?:\d{2}:\d{2}$/.test(schedule)) {
    problems.push(
      `${MONITORING_SETTING.schedule}: '${schedule}' is not an NCRONTAB expression (6 fields, seconds first) or hh:mm:ss`,
    );
  }
  const s = MONITORING_SETTING;
  const config: MonitoringConfig = {
    schedule,
    windowMinutes: readNumber(env, s.windowMinutes, 60, COUNT, problems),
    minRecords: readNumber(env, s.minRecords, 200, COUNT, problems),
    falseAlarmRate: readNumber(env, s.falseAlarmRate, 0.01, OPEN_SHARE, problems),
    minPsi: readNumber(env, s.minPsi, 0.1, { min: 0, max: 100, integer: false }, problems),
    minOovIncrease: readNumber(env, s.minOovIncrease, 0.05, SHARE, problems),
    nullSimulations: readNumber(
      env,
      s.nullSimulations,
      1000,
      { min: 100, max: 100_000, integer: true },
      problems,
    ),
    reviewRateTarget: readNumber(env, s.reviewRateTarget, 0.35, OPEN_SHARE, problems),
    latencyP95Ms: readNumber(env, s.latencyP95Ms, 500, { min: 1, max: 1e7, integer: false }, problems),
    latencyP99Ms: readNumber(env, s.latencyP99Ms, 1500, { min: 1, max: 1e7, integer: false }, problems),
    retrainCooldownMinutes: readNumber(
      env,
      s.retrainCooldownMinutes,
      1440,
      { min: 0, max: 1e7, integer: true },
      problems,
    ),
  };
  if (config.nullSimulations * config.falseAlarmRate < 1) {
    problems.push(
      `${s.nullSimulations}: ${config.nullSimulations} simulations cannot resolve a false-alarm rate of ${config.falseAlarmRate}; need at least ${Math.ceil(1 / config.falseAlarmRate)}`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
}

let cached: MonitoringConfig | undefined;

/** The process-wide monitoring settings, read from `process.env` on first use. */
export function getMonitoringConfig(): MonitoringConfig {
  cached ??= loadMonitoringConfig(process.env);
  return cached;
}
