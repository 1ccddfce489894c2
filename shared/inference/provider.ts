/**
 * Which model serves. A `ModelSource` says where the serving package is (a configured blob prefix or folder
 * today, the model registry's champion later); the `ModelProvider` holds the loaded model and swaps it
 * atomically: the new model is loaded and warmed up beside the old one, then one reference assignment makes it
 * current. Requests that already hold the old model finish on it, and its session is released only after the
 * last of them, so a swap neither fails nor slows a request.
 */
import type { ContainerClient } from '@azure/storage-blob';
import type { Nomenclature } from '../hs/nomenclature';
import { MANIFEST_FILE } from '../model-package/manifest';
import { blobPackageFiles, folderPackageFiles, sha256Hex, type PackageFiles } from '../model-package/package';
import { loadModelFrom, type ServingModel, type SessionTuning } from './model';

/** Where serving packages come from. The model registry implements this to serve its champion. */
export interface ModelSource {
  /** The package that should serve now. */
  current(): Promise<PackageFiles>;
  /** The package of a given model version (replay of an older prediction); undefined when unknown. */
  byVersion(modelVersion: string): Promise<PackageFiles | undefined>;
}

/** A fixed package in a local folder. */
export function folderModelSource(folder: string): ModelSource {
  return {
    current: async () => folderPackageFiles(folder),
    byVersion: async () => undefined,
  };
}

/**
 * A configured blob prefix in the `models` container (`MODEL_PACKAGE`, e.g. `v3/`); other versions are looked
 * up under `<modelVersion>/`, the layout the registry will write.
 */
export function blobModelSource(container: ContainerClient, prefix: string): ModelSource {
  return {
    current: async () => blobPackageFiles(container, prefix),
    byVersion: async (modelVersion) => {
      const files = blobPackageFiles(container, modelVersion);
      return (await container.getBlockBlobClient(`${modelVersion}/manifest.json`).exists())
        ? files
        : undefined;
    },
  };
}

/** No model can serve: none configured, or the package failed to load. The HTTP layer answers 503. */
export class ModelUnavailableError extends Error {
  override readonly name = 'ModelUnavailableError';
}

interface Held {
  readonly model: ServingModel;
  inFlight: number;
  retired: boolean;
  released?: Promise<void>;
}

export interface ModelProviderOptions {
  readonly source: ModelSource;
  readonly nomenclature: Nomenclature;
  readonly tuning?: SessionTuning;
  /** Older versions kept loaded for replay, besides the current one. Default 1. */
  readonly keepVersions?: number;
  /** Where failed session releases are reported. Default: console.error. */
  readonly onReleaseError?: (message: string) => void;
}

export class ModelProvider {
  #current: Held | undefined;
  #loading: Promise<Held> | undefined;
  #poller: NodeJS.Timeout | undefined;
  #polling: Promise<void> | undefined;
  #closed = false;
  readonly #others = new Map<string, Held>();
  readonly #options: ModelProviderOptions;

  constructor(options: ModelProviderOptions) {
    this.#options = options;
  }

  /** The serving model's version, once loaded. */
  get currentVersion(): string | undefined {
    return this.#current?.model.modelVersion;
  }

  /**
   * Runs `work` with the current model (loading it on first use; concurrent first requests share one load).
   * The model stays alive until `work` settles, even if a swap happens meanwhile.
   */
  async withModel<T>(work: (model: ServingModel) => Promise<T>): Promise<T> {
    const held = this.#current ?? (await this.#firstLoad());
    return this.#use(held, work);
  }

  /** Like `withModel`, on a given version: the current one, a kept one, or one loaded from the source. */
  async withVersion<T>(
    modelVersion: string,
    work: (model: ServingModel) => Promise<T>,
  ): Promise<T | undefined> {
    const current = this.#current ?? (await this.#firstLoad());
    if (current.model.modelVersion === modelVersion) return this.#use(current, work);
    let held = this.#others.get(modelVersion);
    if (held === undefined) {
      const files = await this.#options.source.byVersion(modelVersion);
      if (files === undefined) return undefined;
      held = this.#hold(await loadModelFrom(files, this.#options.nomenclature, this.#options.tuning));
      this.#keep(held);
    }
    return this.#use(held, work);
  }

  /**
   * Loads the source's current package and makes it serve. Load failures leave the old model serving and are
   * thrown to the caller. Returns the new model's version.
   */
  async refresh(): Promise<string> {
    const files = await this.#options.source.current();
    return this.swapTo(files);
  }

  /**
   * Swaps to the source's current package only when it differs from the serving one (by package hash, which
   * costs one manifest read). Returns whether it swapped. This is what a poller calls: a champion change in the
   * registry reaches every instance within one interval.
   */
  async refreshIfChanged(): Promise<boolean> {
    const files = await this.#options.source.current();
    const manifestHash = sha256Hex(await files.read(MANIFEST_FILE));
    if (this.#current !== undefined && this.#current.model.packageHash === manifestHash) return false;
    await this.swapTo(files);
    return true;
  }

  /** Polls `refreshIfChanged` every `intervalMs` (unref'd); failures are reported and the old model keeps serving. */
  startPolling(intervalMs: number, onError: (message: string) => void = (m) => console.error(m)): void {
    if (this.#poller !== undefined) return;
    this.#poller = setInterval(() => {
      if (this.#polling !== undefined) return;
      this.#polling = this.refreshIfChanged()
        .then(
          () => undefined,
          (error: unknown) =>
            onError(`model refresh failed: ${error instanceof Error ? error.message : String(error)}`),
        )
        .finally(() => {
          this.#polling = undefined;
        });
    }, intervalMs);
    this.#poller.unref();
  }

  /** Loads a given package and swaps to it atomically. */
  async swapTo(files: PackageFiles): Promise<string> {
    const next = this.#hold(await loadModelFrom(files, this.#options.nomenclature, this.#options.tuning));
    if (this.#closed) {
      // Loaded after close(): nothing will ever release it unless this does.
      await this.#retire(next);
      throw new ModelUnavailableError(`the model provider closed while ${next.model.modelVersion} loaded`);
    }
    const previous = this.#current;
    this.#current = next;
    if (previous !== undefined && previous.model.modelVersion !== next.model.modelVersion)
      this.#keep(previous);
    else if (previous !== undefined) this.#retireLater(previous);
    return next.model.modelVersion;
  }

  /** Releases every session once its in-flight requests finish. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#poller !== undefined) clearInterval(this.#poller);
    this.#poller = undefined;
    // A poll in flight would otherwise finish after close: swap in a session nobody releases, or log a failure
    // after the owner (a test, a shutting-down instance) is gone.
    await this.#polling;
    const all = [...this.#others.values(), ...(this.#current ? [this.#current] : [])];
    this.#others.clear();
    this.#current = undefined;
    await Promise.all(all.map((held) => this.#retire(held)));
  }

  #hold(model: ServingModel): Held {
    return { model, inFlight: 0, retired: false };
  }

  async #firstLoad(): Promise<Held> {
    this.#loading ??= (async () => {
      try {
        const files = await this.#options.source.current();
        const held = this.#hold(await loadModelFrom(files, this.#options.nomenclature, this.#options.tuning));
        this.#current ??= held;
        return this.#current;
      } catch (error: unknown) {
        if (error instanceof ModelUnavailableError) throw error;
        throw new ModelUnavailableError(
          `the serving model could not be loaded: ${error instanceof Error ? error.message : String(error)}`,
          { cause: error },
        );
      }
    })();
    try {
      return await this.#loading;
    } catch (error: unknown) {
      // A failed first load must be retried by the next request, not cached forever.
      this.#loading = undefined;
      throw error;
    }
  }

  #keep(held: Held): void {
    const existing = this.#others.get(held.model.modelVersion);
    if (existing !== undefined && existing !== held) this.#retireLater(existing);
    this.#others.set(held.model.modelVersion, held);
    const limit = this.#options.keepVersions ?? 1;
    for (const [version, old] of this.#others) {
      if (this.#others.size <= limit) break;
      this.#others.delete(version);
      this.#retireLater(old);
    }
  }

  async #use<T>(held: Held, work: (model: ServingModel) => Promise<T>): Promise<T> {
    held.inFlight++;
    try {
      return await work(held.model);
    } finally {
      held.inFlight--;
      if (held.retired && held.inFlight === 0) this.#report(this.#releaseNow(held), held);
    }
  }

  /** Retires without waiting; a failed session release is reported, since serving goes on either way. */
  #retireLater(held: Held): void {
    this.#report(this.#retire(held), held);
  }

  #report(release: Promise<void>, held: Held): void {
    release.catch((error: unknown) => {
      const log = this.#options.onReleaseError ?? ((message: string) => console.error(message));
      log(
        `releasing model ${held.model.modelVersion} failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    });
  }

  #retire(held: Held): Promise<void> {
    held.retired = true;
    if (held.inFlight === 0) return this.#releaseNow(held);
    return Promise.resolve();
  }

  #releaseNow(held: Held): Promise<void> {
    held.released ??= held.model.release();
    return held.released;
  }
}
