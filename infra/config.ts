import * as pulumi from '@pulumi/pulumi';
import { ConfigError, DEFAULT_RETRAIN_SCHEDULE, loadRetrainScheduleConfig } from '../shared/config';
import { namePrefixPattern } from './naming';
import { defaultPackagePath } from './packaging/defaults';
import { retrainScheduleSetting } from './settings';

/** Stack configuration, validated once. Keys live in the project namespace (`hs-mlops:<key>`). */
export interface InfraConfig {
  /** Azure region for every resource, from `azure-native:location` (required; Pulumi.yaml sets westeurope). */
  readonly location: string;
  /** Stem of every resource name (`namePrefix`), 3-11 lowercase letters or digits. Default `hsmlops`. */
  readonly namePrefix: string;
  /**
   * Memory per Flex Consumption instance in MB (`instanceMemoryMB`): 2048 or 4096. Default 2048, which holds
   * the ONNX runtime and two loaded models (champion and challenger) with room to spare.
   */
  readonly instanceMemoryMB: 2048 | 4096;
  /** Upper bound on Flex instances (`maximumInstanceCount`), 40-1000. Default 40: caps the bill of a burst. */
  readonly maximumInstanceCount: number;
  /**
   * Days a prediction stays in Cosmos DB (`predictionRetentionDays`), 1-3650. Default 1095 (three years, the
   * customs record-keeping period an auditor may ask about); audit-spill blobs keep older evidence.
   */
  readonly predictionRetentionDays: number;
  /** Log Analytics retention in days (`logRetentionDays`), 30-730. Default 30 (the free retention). */
  readonly logRetentionDays: number;
  /**
   * The app's `RETRAIN_SCHEDULE` (`retrainSchedule`): an NCRONTAB expression, `hh:mm:ss`, or `off`, checked by
   * the app's own loader. Default: the app's default, `0 0 2 * * 0` (Sundays 02:00 UTC).
   */
  readonly retrainSchedule: string;
  /** Address the alerts e-mail (`alertEmail`). Default: none (the alerts still fire and show in the portal). */
  readonly alertEmail: string | undefined;
  /**
   * Share of API requests answered with 5xx, in percent, above which an alert fires (`alertServerErrorPercent`),
   * over 0 up to 100. Default 1.
   */
  readonly alertServerErrorPercent: number;
  /** p95 server latency of API requests in ms above which an alert fires (`alertP95LatencyMs`), 1-600000.
   * Default 1000. */
  readonly alertP95LatencyMs: number;
  /** Window each alert evaluates, in minutes (`alertWindowMinutes`): 5, 10, 15, 30, 45 or 60. Default 5. */
  readonly alertWindowMinutes: 5 | 10 | 15 | 30 | 45 | 60;
  /**
   * Fewest API requests in a window for either alert to judge it (`alertMinimumRequests`), 1-100000. Default 10:
   * one failed request out of two at night is not an incident.
   */
  readonly alertMinimumRequests: number;
  /**
   * The deployment zip `pulumi up` uploads (`deploymentPackagePath`): absolute, or relative to the project root;
   * it must exist (`npm run package` writes it). Default `dist-package/hs-mlops.zip`.
   */
  readonly deploymentPackagePath: string;
  /**
   * Kind of principal that runs `pulumi up` (`deployerPrincipalType`): `User` (an `az login` person),
   * `ServicePrincipal` (CI, including managed identities and workload identity) or `Group`. The stack grants it
   * the upload of the deployment package, and Azure refuses a role assignment whose type does not match the
   * principal. Default `User`.
   */
  readonly deployerPrincipalType: DeployerPrincipalType;
}

/** Principal kinds a role assignment names (`principalType`); the deployer is one of them. */
export const deployerPrincipalTypes = ['User', 'ServicePrincipal', 'Group'] as const;
export type DeployerPrincipalType = (typeof deployerPrincipalTypes)[number];

/** Raw string values as Pulumi config returns them; undefined when the key is not set. */
export type RawInfraConfig = Partial<Record<keyof InfraConfig, string | undefined>>;

const defaults = {
  namePrefix: 'hsmlops',
  instanceMemoryMB: 2048,
  maximumInstanceCount: 40,
  predictionRetentionDays: 1095,
  logRetentionDays: 30,
  alertServerErrorPercent: 1,
  alertP95LatencyMs: 1000,
  alertWindowMinutes: 5,
  alertMinimumRequests: 10,
  deployerPrincipalType: 'User',
} as const;

/** Window sizes a log alert rule accepts that are also sensible for request alerts. */
const alertWindows = [5, 10, 15, 30, 45, 60] as const;

/** Deliberately loose: Azure validates the address; this catches a value pasted into the wrong key. */
const emailPattern = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

function integerIn(raw: string | undefined, fallback: number, min: number, max: number, key: string): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`config '${key}' must be an integer from ${min} to ${max}, got '${raw}'`);
  }
  return value;
}

function numberIn(raw: string | undefined, fallback: number, min: number, max: number, key: string): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value <= min || value > max) {
    throw new Error(`config '${key}' must be a number above ${min} and at most ${max}, got '${raw}'`);
  }
  return value;
}

function retrainScheduleOf(raw: string | undefined): string {
  const schedule = raw?.trim() || DEFAULT_RETRAIN_SCHEDULE;
  try {
    loadRetrainScheduleConfig({ [retrainScheduleSetting]: schedule });
  } catch (error: unknown) {
    if (error instanceof ConfigError) {
      throw new Error(`config 'retrainSchedule': ${error.problems.join('; ')}`, { cause: error });
    }
    throw error;
  }
  return schedule;
}

function alertWindowOf(raw: string | undefined): InfraConfig['alertWindowMinutes'] {
  if (raw === undefined) return defaults.alertWindowMinutes;
  const window = alertWindows.find((minutes) => String(minutes) === raw.trim());
  if (window === undefined) {
    throw new Error(`config 'alertWindowMinutes' must be one of ${alertWindows.join(', ')}, got '${raw}'`);
  }
  return window;
}

function alertEmailOf(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const email = raw.trim();
  if (!emailPattern.test(email))
    throw new Error(`config 'alertEmail' must be an e-mail address, got '${raw}'`);
  return email;
}

function packagePathOf(raw: string | undefined): string {
  if (raw === undefined) return defaultPackagePath;
  const path = raw.trim();
  if (!path.endsWith('.zip'))
    throw new Error(`config 'deploymentPackagePath' must name a .zip file, got '${raw}'`);
  return path;
}

function deployerPrincipalTypeOf(raw: string | undefined): DeployerPrincipalType {
  if (raw === undefined) return defaults.deployerPrincipalType;
  const type = deployerPrincipalTypes.find((candidate) => candidate === raw.trim());
  if (type === undefined) {
    throw new Error(
      `config 'deployerPrincipalType' must be one of ${deployerPrincipalTypes.join(', ')}, got '${raw}'`,
    );
  }
  return type;
}

/**
 * Validates raw configuration and applies the documented defaults. Every problem is reported at once, so a
 * broken stack config is fixed in one pass.
 */
export function parseInfraConfig(raw: RawInfraConfig): InfraConfig {
  const problems: string[] = [];
  const attempt = <T>(read: () => T, fallback: T): T => {
    try {
      return read();
    } catch (error: unknown) {
      problems.push(error instanceof Error ? error.message : String(error));
      return fallback;
    }
  };

  const location = raw.location?.trim() ?? '';
  if (location.length === 0) problems.push("config 'azure-native:location' is required");

  const namePrefix = raw.namePrefix ?? defaults.namePrefix;
  if (!namePrefixPattern.test(namePrefix)) {
    problems.push(`config 'namePrefix' must match ${namePrefixPattern.source}, got '${namePrefix}'`);
  }

  const memory = attempt(
    () => integerIn(raw.instanceMemoryMB, defaults.instanceMemoryMB, 2048, 4096, 'instanceMemoryMB'),
    defaults.instanceMemoryMB,
  );
  if (memory !== 2048 && memory !== 4096) {
    problems.push(`config 'instanceMemoryMB' must be 2048 or 4096, got '${String(raw.instanceMemoryMB)}'`);
  }

  const config: InfraConfig = {
    location,
    namePrefix,
    instanceMemoryMB: memory === 4096 ? 4096 : 2048,
    maximumInstanceCount: attempt(
      () =>
        integerIn(raw.maximumInstanceCount, defaults.maximumInstanceCount, 40, 1000, 'maximumInstanceCount'),
      defaults.maximumInstanceCount,
    ),
    predictionRetentionDays: attempt(
      () =>
        integerIn(
          raw.predictionRetentionDays,
          defaults.predictionRetentionDays,
          1,
          3650,
          'predictionRetentionDays',
        ),
      defaults.predictionRetentionDays,
    ),
    logRetentionDays: attempt(
      () => integerIn(raw.logRetentionDays, defaults.logRetentionDays, 30, 730, 'logRetentionDays'),
      defaults.logRetentionDays,
    ),
    retrainSchedule: attempt(() => retrainScheduleOf(raw.retrainSchedule), DEFAULT_RETRAIN_SCHEDULE),
    alertEmail: attempt(() => alertEmailOf(raw.alertEmail), undefined),
    alertServerErrorPercent: attempt(
      () =>
        numberIn(
          raw.alertServerErrorPercent,
          defaults.alertServerErrorPercent,
          0,
          100,
          'alertServerErrorPercent',
        ),
      defaults.alertServerErrorPercent,
    ),
    alertP95LatencyMs: attempt(
      () => integerIn(raw.alertP95LatencyMs, defaults.alertP95LatencyMs, 1, 600_000, 'alertP95LatencyMs'),
      defaults.alertP95LatencyMs,
    ),
    alertWindowMinutes: attempt(() => alertWindowOf(raw.alertWindowMinutes), defaults.alertWindowMinutes),
    alertMinimumRequests: attempt(
      () =>
        integerIn(
          raw.alertMinimumRequests,
          defaults.alertMinimumRequests,
          1,
          100_000,
          'alertMinimumRequests',
        ),
      defaults.alertMinimumRequests,
    ),
    deploymentPackagePath: attempt(() => packagePathOf(raw.deploymentPackagePath), defaultPackagePath),
    deployerPrincipalType: attempt(
      () => deployerPrincipalTypeOf(raw.deployerPrincipalType),
      defaults.deployerPrincipalType,
    ),
  };
  if (problems.length > 0) {
    throw new Error(`invalid stack configuration:\n  ${problems.join('\n  ')}`);
  }
  return Object.freeze(config);
}

/** Reads the stack configuration from Pulumi. */
export function readInfraConfig(): InfraConfig {
  const project = new pulumi.Config();
  const azure = new pulumi.Config('azure-native');
  return parseInfraConfig({
    location: azure.get('location'),
    namePrefix: project.get('namePrefix'),
    instanceMemoryMB: project.get('instanceMemoryMB'),
    maximumInstanceCount: project.get('maximumInstanceCount'),
    predictionRetentionDays: project.get('predictionRetentionDays'),
    logRetentionDays: project.get('logRetentionDays'),
    retrainSchedule: project.get('retrainSchedule'),
    alertEmail: project.get('alertEmail'),
    alertServerErrorPercent: project.get('alertServerErrorPercent'),
    alertP95LatencyMs: project.get('alertP95LatencyMs'),
    alertWindowMinutes: project.get('alertWindowMinutes'),
    alertMinimumRequests: project.get('alertMinimumRequests'),
    deploymentPackagePath: project.get('deploymentPackagePath'),
    deployerPrincipalType: project.get('deployerPrincipalType'),
  });
}
