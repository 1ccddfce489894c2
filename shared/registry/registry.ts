/**
 * The model registry over Cosmos (`models`, `registry-log`) and Blob (`models` container, one prefix per
 * version). Every alias move is an etag-guarded replace of the alias document: of two deciders that read the same
 * champion and both try to promote, Cosmos accepts one replace and answers 412 to the other, which surfaces as a
 * `RegistryConflictError`. The log entry of a move has a deterministic id (`<alias>-<revision>`), so writing it
 * again after a crash cannot record the move twice.
 */
import { randomUUID } from 'node:crypto';
import { ErrorResponse, type Container, type ItemDefinition } from '@azure/cosmos';
import type { ContainerClient } from '@azure/storage-blob';
import { blobPackageFiles, readModelPackage, type PackageFiles } from '../model-package/package';
import {
  ModelNotFoundError,
  RegistryConflictError,
  type Actor,
  type AliasName,
  type AliasRecord,
  type Evidence,
  type ModelStatus,
  type ModelVersionRecord,
  type RegistryAction,
  type RegistryLogEntry,
} from './types';

export interface ModelRegistryTargets {
  /** Cosmos `models`: model versions and alias documents. */
  readonly models: Container;
  /** Cosmos `registry-log`: the append-only audit log. */
  readonly log: Container;
  /** Blob `models`: packages under `<modelVersion>/`. */
  readonly packages: ContainerClient;
  /** Clock for records; tests pin it. Default: `new Date()`. */
  readonly now?: () => Date;
}

export interface TransitionInput {
  readonly actor: Actor;
  readonly reason: string;
  readonly evidence?: Evidence;
}

export interface Aliases {
  readonly champion: ModelVersionRecord | undefined;
  readonly challenger: ModelVersionRecord | undefined;
}

/** The outcome of a promotion or rollback: who serves now and who stepped down. */
export interface ChampionMove {
  readonly champion: ModelVersionRecord;
  readonly previous: ModelVersionRecord | undefined;
  readonly revision: number;
}

const ALIAS_ID = (alias: AliasName): `alias:${AliasName}` => `alias:${alias}`;

function statusCodeOf(error: unknown): number | undefined {
  if (!(error instanceof ErrorResponse)) return undefined;
  const code: unknown = error.code;
  const statusCode: unknown = error.statusCode;
  if (typeof code === 'number') return code;
  return typeof statusCode === 'number' ? statusCode : undefined;
}

function requireReason(input: TransitionInput): void {
  if (input.reason.trim() === '') throw new RegistryConflictError('a transition needs a non-empty reason');
}

export class ModelRegistry {
  readonly #models: Container;
  readonly #log: Container;
  readonly #packages: ContainerClient;
  readonly #now: () => Date;

  constructor(targets: ModelRegistryTargets) {
    this.#models = targets.models;
    this.#log = targets.log;
    this.#packages = targets.packages;
    this.#now = targets.now ?? (() => new Date());
  }

  /** The package files of a registered version, for serving or replay. */
  packageFiles(record: ModelVersionRecord): PackageFiles {
    return blobPackageFiles(this.#packages, record.packagePrefix);
  }

  /**
   * Registers the package uploaded under `<modelVersion>/` as a candidate. The package is read and every file
   * checked against the manifest's sha256 first, so a version that could never serve is never registered.
   */
  async register(modelVersion: string, input: TransitionInput): Promise<ModelVersionRecord> {
    requireReason(input);
    const prefix = `${modelVersion}/`;
    const pkg = await readModelPackage(blobPackageFiles(this.#packages, prefix));
    if (pkg.manifest.modelVersion !== modelVersion) {
      throw new RegistryConflictError(
        `the package under '${prefix}' declares model version '${pkg.manifest.modelVersion}', not '${modelVersion}'`,
      );
    }
    const at = this.#now().toISOString();
    const record: ModelVersionRecord = {
      id: modelVersion,
      kind: 'model',
      modelVersion,
      status: 'candidate',
      packageContainer: this.#packages.containerName,
      packagePrefix: prefix,
      packageHash: pkg.packageHash,
      metrics: pkg.manifest.metrics,
      lineage: {
        datasetVersion: pkg.manifest.dataset.version,
        datasetHash: pkg.manifest.dataset.contentHash,
        codeVersion: pkg.manifest.codeVersion,
        seed: pkg.manifest.seed,
        hyperParameters: pkg.manifest.hyperParameters,
        architecture: pkg.manifest.arch.kind,
      },
      builtAt: pkg.manifest.createdAt,
      registeredAt: at,
      statusChangedAt: at,
    };
    try {
      await this.#models.items.create(record);
    } catch (error: unknown) {
      if (statusCodeOf(error) === 409) {
        throw new RegistryConflictError(`model version '${modelVersion}' is already registered`);
      }
      throw error;
    }
    await this.#append({
      id: 'registered',
      modelVersion,
      action: 'registered',
      fromStatus: null,
      toStatus: 'candidate',
      alias: null,
      aliasRevision: null,
      ...input,
      evidence: { packageHash: pkg.packageHash, metrics: pkg.manifest.metrics, ...input.evidence },
    });
    return record;
  }

  async get(modelVersion: string): Promise<ModelVersionRecord | undefined> {
    const { resource } = await this.#models.item(modelVersion, modelVersion).read<ModelVersionRecord>();
    return resource?.kind === 'model' ? strip(resource) : undefined;
  }

  async require(modelVersion: string): Promise<ModelVersionRecord> {
    const record = await this.get(modelVersion);
    if (record === undefined) throw new ModelNotFoundError(modelVersion);
    return record;
  }

  /** Every registered version, newest registration first. */
  async list(): Promise<ModelVersionRecord[]> {
    const { resources } = await this.#models.items
      .query<ModelVersionRecord>({ query: "SELECT * FROM m WHERE m.kind = 'model'" })
      .fetchAll();
    return resources.map(strip).sort((a, b) => compareDesc(a.registeredAt, b.registeredAt));
  }

  /** The audit log, oldest first: of one version, or of the whole registry. */
  async history(modelVersion?: string): Promise<RegistryLogEntry[]> {
    const query =
      modelVersion === undefined
        ? { query: 'SELECT * FROM l' }
        : {
            query: 'SELECT * FROM l WHERE l.modelVersion = @v',
            parameters: [{ name: '@v', value: modelVersion }],
          };
    const { resources } = await this.#log.items.query<RegistryLogEntry>(query).fetchAll();
    return resources.map(strip).sort((a, b) => compareDesc(b.at, a.at) || a.id.localeCompare(b.id));
  }

  /** The alias documents as stored (null when an alias was never set). */
  async alias(alias: AliasName): Promise<AliasRecord | undefined> {
    return (await this.#readAlias(alias)).record;
  }

  /** Current champion and challenger: what serving polls. */
  async aliases(): Promise<Aliases> {
    const [champion, challenger] = await Promise.all([this.alias('champion'), this.alias('challenger')]);
    const resolve = async (record: AliasRecord | undefined) =>
      record?.modelVersion == null ? undefined : this.require(record.modelVersion);
    return { champion: await resolve(champion), challenger: await resolve(challenger) };
  }

  /** A candidate becomes the challenger; the challenger alias must be empty (one experiment at a time). */
  async setChallenger(modelVersion: string, input: TransitionInput): Promise<ModelVersionRecord> {
    requireReason(input);
    const model = await this.require(modelVersion);
    if (model.status !== 'candidate') {
      throw new RegistryConflictError(
        `'${modelVersion}' is ${model.status}; only a candidate can become challenger`,
      );
    }
    const moved = await this.#moveAlias('challenger', modelVersion, (current) => {
      if (current != null) {
        throw new RegistryConflictError(
          `the challenger alias is held by '${current}'; decide that experiment first`,
        );
      }
    });
    const updated = await this.#setStatus(model, 'challenger');
    await this.#append({
      id: `challenger-${moved.revision}`,
      modelVersion,
      action: 'challenger-set',
      fromStatus: model.status,
      toStatus: 'challenger',
      alias: 'challenger',
      aliasRevision: moved.revision,
      ...input,
      evidence: input.evidence ?? {},
    });
    return updated;
  }

  /** The challenger lost its experiment: the alias is emptied and the version rejected. */
  async rejectChallenger(modelVersion: string, input: TransitionInput): Promise<ModelVersionRecord> {
    requireReason(input);
    const model = await this.require(modelVersion);
    const moved = await this.#moveAlias('challenger', null, (current) => {
      if (current !== modelVersion) {
        throw new RegistryConflictError(
          `'${modelVersion}' is not the challenger (the challenger is '${current}')`,
        );
      }
    });
    const updated = await this.#setStatus(model, 'rejected');
    await this.#append({
      id: `challenger-${moved.revision}`,
      modelVersion,
      action: 'rejected',
      fromStatus: model.status,
      toStatus: 'rejected',
      alias: 'challenger',
      aliasRevision: moved.revision,
      ...input,
      evidence: input.evidence ?? {},
    });
    return updated;
  }

  /**
   * Makes `modelVersion` the champion; the old champion is retired. With `expectedChampion`, the move happens only
   * if that version is still champion when the alias is replaced: a decision taken on an experiment against an
   * old champion cannot land after someone else changed it.
   */
  async promote(
    modelVersion: string,
    input: TransitionInput & { readonly expectedChampion?: string | null },
  ): Promise<ChampionMove> {
    requireReason(input);
    const model = await this.require(modelVersion);
    if (model.status === 'champion' || model.status === 'rejected') {
      throw new RegistryConflictError(`'${modelVersion}' is ${model.status} and cannot be promoted`);
    }
    const moved = await this.#moveAlias('champion', modelVersion, (current) => {
      if (current === modelVersion) throw new RegistryConflictError(`'${modelVersion}' is already champion`);
      if (input.expectedChampion !== undefined && current !== input.expectedChampion) {
        throw new RegistryConflictError(
          `the champion is '${current}', not the expected '${input.expectedChampion}'; the decision is stale`,
        );
      }
    });
    return this.#finishChampionMove(model, moved, 'promoted', 'retired', input);
  }

  /**
   * Takes `modelVersion` (which must be the champion) out of service and restores the version it replaced;
   * the rolled-back version is rejected.
   */
  async rollback(modelVersion: string, input: TransitionInput): Promise<ChampionMove> {
    requireReason(input);
    const alias = await this.alias('champion');
    if (alias?.modelVersion !== modelVersion) {
      throw new RegistryConflictError(
        `'${modelVersion}' is not the champion (it is '${alias?.modelVersion ?? 'none'}')`,
      );
    }
    const restore = alias.previousVersion;
    if (restore === null) throw new RegistryConflictError(`'${modelVersion}' replaced no earlier champion`);
    const target = await this.require(restore);
    const moved = await this.#moveAlias('champion', restore, (current) => {
      if (current !== modelVersion) {
        throw new RegistryConflictError(`the champion changed to '${current}' during the rollback`);
      }
    });
    return this.#finishChampionMove(target, moved, 'rolled-back', 'rejected', input);
  }

  /** Records a decision that moved nothing (keep collecting), with its statistics. */
  async recordDecision(modelVersion: string, input: TransitionInput): Promise<RegistryLogEntry> {
    requireReason(input);
    const model = await this.require(modelVersion);
    return this.#append({
      id: `decision-${randomUUID()}`,
      modelVersion,
      action: 'decision',
      fromStatus: model.status,
      toStatus: model.status,
      alias: null,
      aliasRevision: null,
      ...input,
      evidence: input.evidence ?? {},
    });
  }

  async #finishChampionMove(
    model: ModelVersionRecord,
    moved: { revision: number; previous: string | null },
    action: RegistryAction,
    previousStatus: ModelStatus,
    input: TransitionInput,
  ): Promise<ChampionMove> {
    const champion = await this.#setStatus(model, 'champion');
    const previousModel = moved.previous === null ? undefined : await this.get(moved.previous);
    const previous =
      previousModel === undefined ? undefined : await this.#setStatus(previousModel, previousStatus);
    const evidence = { ...input.evidence, previousChampion: moved.previous };
    await this.#append({
      id: `champion-${moved.revision}`,
      modelVersion: model.modelVersion,
      action,
      fromStatus: model.status,
      toStatus: 'champion',
      alias: 'champion',
      aliasRevision: moved.revision,
      actor: input.actor,
      reason: input.reason,
      evidence,
    });
    if (previousModel !== undefined) {
      await this.#append({
        id: `champion-${moved.revision}-replaced`,
        modelVersion: previousModel.modelVersion,
        action: previousStatus === 'retired' ? 'retired' : 'rejected',
        fromStatus: previousModel.status,
        toStatus: previousStatus,
        alias: 'champion',
        aliasRevision: moved.revision,
        actor: input.actor,
        reason: input.reason,
        evidence: { ...input.evidence, newChampion: model.modelVersion },
      });
    }
    if (model.status === 'challenger') await this.#clearChallengerIfHeldBy(model.modelVersion, input);
    return { champion, previous, revision: moved.revision };
  }

  async #clearChallengerIfHeldBy(modelVersion: string, input: TransitionInput): Promise<void> {
    const current = await this.alias('challenger');
    if (current?.modelVersion !== modelVersion) return;
    const moved = await this.#moveAlias('challenger', null, (holder) => {
      if (holder !== modelVersion) {
        throw new RegistryConflictError(
          `the challenger alias moved to '${holder}' while promoting '${modelVersion}'`,
        );
      }
    });
    await this.#append({
      id: `challenger-${moved.revision}`,
      modelVersion,
      action: 'challenger-cleared',
      fromStatus: 'challenger',
      toStatus: 'champion',
      alias: 'challenger',
      aliasRevision: moved.revision,
      ...input,
      evidence: input.evidence ?? {},
    });
  }

  async #readAlias(alias: AliasName): Promise<{ record: AliasRecord | undefined; etag: string | undefined }> {
    const id = ALIAS_ID(alias);
    const response = await this.#models.item(id, id).read<AliasRecord>();
    return {
      record: response.resource === undefined ? undefined : strip(response.resource),
      etag: response.etag,
    };
  }

  /**
   * The one place aliases change. `check` sees the current holder and throws to refuse; the write is a create
   * (first move) or an If-Match replace, so a concurrent move between our read and write loses with 409 / 412.
   */
  async #moveAlias(
    alias: AliasName,
    to: string | null,
    check: (current: string | null) => void,
  ): Promise<{ revision: number; previous: string | null }> {
    const { record, etag } = await this.#readAlias(alias);
    const current = record?.modelVersion ?? null;
    check(current);
    const next: AliasRecord = {
      id: ALIAS_ID(alias),
      kind: 'alias',
      alias,
      modelVersion: to,
      previousVersion: current,
      revision: (record?.revision ?? 0) + 1,
      movedAt: this.#now().toISOString(),
    };
    try {
      if (record === undefined) await this.#models.items.create(next);
      else {
        await this.#models
          .item(next.id, next.id)
          .replace(next, { accessCondition: { type: 'IfMatch', condition: etag ?? '' } });
      }
    } catch (error: unknown) {
      const status = statusCodeOf(error);
      if (status === 409 || status === 412) {
        throw new RegistryConflictError(
          `the ${alias} alias was moved concurrently; re-read and decide again`,
        );
      }
      throw error;
    }
    return { revision: next.revision, previous: current };
  }

  async #setStatus(model: ModelVersionRecord, status: ModelStatus): Promise<ModelVersionRecord> {
    const updated: ModelVersionRecord = { ...model, status, statusChangedAt: this.#now().toISOString() };
    await this.#models.item(model.id, model.id).replace(updated);
    return updated;
  }

  async #append(
    entry: Omit<RegistryLogEntry, 'at' | 'id'> & { readonly id: string },
  ): Promise<RegistryLogEntry> {
    const full: RegistryLogEntry = {
      ...entry,
      id: `${entry.modelVersion}:${entry.id}`,
      at: this.#now().toISOString(),
      evidence: entry.evidence,
    };
    try {
      await this.#log.items.create(full);
    } catch (error: unknown) {
      // Ids are derived from alias revisions: a 409 means this very entry was written before (a retried call).
      if (statusCodeOf(error) !== 409) throw error;
    }
    return full;
  }
}

function compareDesc(a: string, b: string): number {
  return a < b ? 1 : a > b ? -1 : 0;
}

/** Drops Cosmos system properties (_rid, _etag, _ts, ...) so records compare and serialise cleanly. */
function strip<T>(resource: T & ItemDefinition): T {
  const copy: Record<string, unknown> = { ...resource };
  for (const key of Object.keys(copy)) if (key.startsWith('_')) delete copy[key];
  return copy as T;
}
