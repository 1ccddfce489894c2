/**
 * What serves, and against what: the champion comes from the model registry when it names one (the configured
 * `MODEL_PACKAGE` covers a fresh install with an empty registry), and a running experiment's challenger gets its
 * own session beside the champion's. Both are re-read on an interval, so a promotion or a new experiment
 * reaches every instance within one poll, and both swap atomically: the new session is loaded and warmed before
 * it becomes visible to requests.
 */
import type { Container } from '@azure/cosmos';
import type { Nomenclature } from '../hs/nomenclature';
import type { ExperimentRecord } from '../lifecycle/experiments';
import type { PackageFiles } from '../model-package/package';
import type { ModelRegistry } from '../registry/registry';
import type { SessionTuning } from './model';
import { ModelProvider, ModelUnavailableError, type ModelSource } from './provider';

/** The part of an experiment document that serving needs. */
export type ServingExperiment = Pick<
  ExperimentRecord,
  'id' | 'mode' | 'championVersion' | 'challengerVersion' | 'challengerShare' | 'startedAt'
>;

/** Where running experiments are read from. */
export interface ExperimentLookup {
  running(): Promise<readonly ServingExperiment[]>;
}

/** A running experiment with its challenger's session loaded. */
export interface ActiveExperiment {
  readonly experiment: ServingExperiment;
  readonly challenger: ModelProvider;
}

/**
 * The registry's champion; while the registry has none, `fallback` (the `MODEL_PACKAGE` setting). Replay looks a
 * version up in the registry first, then in the fallback.
 */
export function championFirstSource(registry: ModelRegistry, fallback: ModelSource | undefined): ModelSource {
  return {
    current: async (): Promise<PackageFiles> => {
      const { champion } = await registry.aliases();
      if (champion !== undefined) return registry.packageFiles(champion);
      if (fallback !== undefined) return fallback.current();
      throw new ModelUnavailableError(
        'no serving model: the registry has no champion and MODEL_PACKAGE is not set',
      );
    },
    byVersion: async (modelVersion) => {
      const record = await registry.get(modelVersion);
      if (record !== undefined) return registry.packageFiles(record);
      return fallback === undefined ? undefined : fallback.byVersion(modelVersion);
    },
  };
}

/** One registered version, whatever the aliases say: the session of an experiment's challenger. */
export function registryVersionSource(registry: ModelRegistry, modelVersion: string): ModelSource {
  return {
    current: async () => registry.packageFiles(await registry.require(modelVersion)),
    byVersion: async (version) => {
      const record = await registry.get(version);
      return record === undefined ? undefined : registry.packageFiles(record);
    },
  };
}

/** Running experiments from Cosmos `experiments` (one small cross-partition query per poll). */
export function cosmosExperimentLookup(experiments: Container): ExperimentLookup {
  return {
    running: async () => {
      const { resources } = await experiments.items
        .query<ServingExperiment>({
          query:
            'SELECT e.id, e.mode, e.championVersion, e.challengerVersion, e.challengerShare, e.startedAt ' +
            "FROM e WHERE e.kind = 'experiment' AND e.status = 'running'",
        })
        .fetchAll();
      return resources;
    },
  };
}

export interface ExperimentTrackerOptions {
  readonly lookup: ExperimentLookup;
  /** Where a challenger's package comes from. */
  readonly challengerSource: (modelVersion: string) => ModelSource;
  readonly nomenclature: Nomenclature;
  readonly tuning?: SessionTuning;
  readonly log?: (level: 'warning' | 'error' | 'information', message: string) => void;
}

/**
 * Follows the running experiment. The registry allows one challenger at a time, so at most one experiment runs;
 * should storage ever hold several, the newest wins and the others are reported.
 */
export class ExperimentTracker {
  #active: ActiveExperiment | undefined;
  #poller: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> | undefined;
  readonly #options: ExperimentTrackerOptions;

  constructor(options: ExperimentTrackerOptions) {
    this.#options = options;
  }

  /** The experiment requests should join now; undefined while none runs (or its challenger is still loading). */
  get active(): ActiveExperiment | undefined {
    return this.#active;
  }

  /** Re-reads the running experiment; concurrent calls share one read. Load failures are thrown. */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#refresh().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  /** Refreshes now and every `intervalMs` (unref'd); failures are reported and the last state stays. */
  startPolling(intervalMs: number): void {
    if (this.#poller !== undefined) return;
    const tick = (): void => {
      this.refresh().catch((error: unknown) =>
        this.#log('warning', `experiment refresh failed: ${messageOf(error)}`),
      );
    };
    this.#poller = setInterval(tick, intervalMs);
    this.#poller.unref();
    tick();
  }

  async close(): Promise<void> {
    if (this.#poller !== undefined) clearInterval(this.#poller);
    this.#poller = undefined;
    await this.#refreshing?.catch((error: unknown) =>
      this.#log('warning', `experiment refresh failed while closing: ${messageOf(error)}`),
    );
    const active = this.#active;
    this.#active = undefined;
    await active?.challenger.close();
  }

  async #refresh(): Promise<void> {
    const running = [...(await this.#options.lookup.running())].sort((a, b) =>
      b.startedAt.localeCompare(a.startedAt),
    );
    const newest = running[0];
    if (running.length > 1) {
      this.#log(
        'warning',
        `${running.length} experiments are running (${running.map((e) => e.id).join(', ')}); serving ${newest?.id}`,
      );
    }
    const previous = this.#active;
    if (newest === undefined) {
      this.#active = undefined;
      await previous?.challenger.close();
      return;
    }
    if (previous !== undefined && sameExperiment(previous.experiment, newest)) return;
    const challenger = new ModelProvider({
      source: this.#options.challengerSource(newest.challengerVersion),
      nomenclature: this.#options.nomenclature,
      tuning: this.#options.tuning,
      keepVersions: 0,
    });
    // Load before publishing, so no request waits for the challenger's session.
    try {
      await challenger.withModel(async () => undefined);
    } catch (error: unknown) {
      await challenger.close();
      throw error;
    }
    this.#active = { experiment: newest, challenger };
    this.#log('information', `experiment ${newest.id} (${newest.mode}) serving ${newest.challengerVersion}`);
    // ModelProvider.close releases each session only after its in-flight requests finish.
    await previous?.challenger.close();
  }

  #log(level: 'warning' | 'error' | 'information', message: string): void {
    if (this.#options.log !== undefined) this.#options.log(level, message);
    else if (level === 'information') console.info(message);
    else console.warn(message);
  }
}

function sameExperiment(a: ServingExperiment, b: ServingExperiment): boolean {
  return (
    a.id === b.id &&
    a.mode === b.mode &&
    a.challengerVersion === b.challengerVersion &&
    a.challengerShare === b.challengerShare &&
    a.startedAt === b.startedAt
  );
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
