import * as pulumi from '@pulumi/pulumi';
import { namePrefixPattern } from './naming';

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
}

/** Raw string values as Pulumi config returns them; undefined when the key is not set. */
export type RawInfraConfig = Partial<Record<keyof InfraConfig, string | undefined>>;

const defaults = {
  namePrefix: 'hsmlops',
  instanceMemoryMB: 2048,
  maximumInstanceCount: 40,
  predictionRetentionDays: 1095,
  logRetentionDays: 30,
} as const;

function integerIn(raw: string | undefined, fallback: number, min: number, max: number, key: string): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`config '${key}' must be an integer from ${min} to ${max}, got '${raw}'`);
  }
  return value;
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
  });
}
