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
  type AliasTransition,
  type Evidence,
  type ModelStatus,
  type ModelVersionRecord,
  type RegistryAction,
  type RegistryLogEntry,
} from './types';

/** The actor of the log entries that reconciliation writes for moves whose own entry was lost. */
export const REPAIR_ACTOR: Actor = Object.freeze({ kind: 'system', id: 'repair' });

/** How old a move must be before reconciliation treats its missing pieces as lost rather than in flight. */
export const DEFAULT_REPAIR_MIN_AGE_MS = 60_000;

/** What reconciliation did to one alias's latest move. */
export interface RegistryRepair {
  readonly alias: AliasName;
  readonly revision: number;
  /** Status writes and log entries it completed, in words. */
  readonly changes: readonly string[];
  /** Set when the move could not be checked (an alias document without its transition). */
  readonly unverifiable?: string;
}

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
    const moved = await this.#moveAlias(
      'challenger',
      modelVersion,
      (current) => {
        if (current != null) {
          throw new RegistryConflictError(
            `the challenger alias is held by '${current}'; decide that experiment first`,
          );
        }
      },
      () => transitionOf('challenger-set', model, 'challenger', null, input),
    );
    return (await this.#applyTransition(moved, undefined)).main;
  }

  /** The challenger lost its experiment: the alias is emptied and the version rejected. */
  async rejectChallenger(modelVersion: string, input: TransitionInput): Promise<ModelVersionRecord> {
    return this.#releaseChallenger(modelVersion, 'rejected', 'rejected', input);
  }

  /**
   * The challenger's experiment was overtaken (the champion it was compared with no longer serves): the alias is
   * emptied and the version becomes a candidate again, since nothing showed it to be worse. It needs a new
   * experiment against the new champion before it can be promoted by the decision timer.
   */
  async withdrawChallenger(modelVersion: string, input: TransitionInput): Promise<ModelVersionRecord> {
    return this.#releaseChallenger(modelVersion, 'challenger-cleared', 'candidate', input);
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
    const moved = await this.#moveAlias(
      'champion',
      modelVersion,
      (current) => {
        if (current === modelVersion)
          throw new RegistryConflictError(`'${modelVersion}' is already champion`);
        if (input.expectedChampion !== undefined && current !== input.expectedChampion) {
          throw new RegistryConflictError(
            `the champion is '${current}', not the expected '${input.expectedChampion}'; the decision is stale`,
          );
        }
      },
      (current) => transitionOf('promoted', model, 'champion', replacedBy(current, 'retired'), input),
    );
    const applied = await this.#applyTransition(moved, undefined);
    if (model.status === 'challenger') await this.#clearChallengerIfHeldBy(modelVersion, input);
    return { champion: applied.main, previous: applied.replaced, revision: moved.revision };
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
    const moved = await this.#moveAlias(
      'champion',
      restore,
      (current) => {
        if (current !== modelVersion) {
          throw new RegistryConflictError(`the champion changed to '${current}' during the rollback`);
        }
      },
      (current) => transitionOf('rolled-back', target, 'champion', replacedBy(current, 'rejected'), input),
    );
    const applied = await this.#applyTransition(moved, undefined);
    return { champion: applied.main, previous: applied.replaced, revision: moved.revision };
  }

  /** Records a decision that moved nothing (keep collecting), with its statistics. */
  async recordDecision(modelVersion: string, input: TransitionInput): Promise<RegistryLogEntry> {
    requireReason(input);
    const model = await this.require(modelVersion);
    return (
      await this.#append({
        id: `decision-${randomUUID()}`,
        modelVersion,
        action: 'decision',
        fromStatus: model.status,
        toStatus: model.status,
        alias: null,
        aliasRevision: null,
        ...input,
        evidence: input.evidence ?? {},
      })
    ).entry;
  }

  /**
   * Completes alias moves that a crash left half done: a move is one etag-guarded write of the alias document
   * (carrying its transition), followed by status writes and the log entry, and a process can die between them.
   * For each alias's latest move this rolls the statuses forward to what the move decided and writes any missing
   * log entry under the id the original would have had (so the original, should it still land, cannot add a
   * second one). A repaired entry is written by `system:repair`, keeps the original reason and evidence and names
   * the original actor and time, so the log never claims that anyone did something at a time they did not. A
   * promoted challenger still holding the challenger alias has that alias cleared. Moves younger than `minAgeMs`
   * may still be completing and are left alone. Idempotent: a second run finds nothing to do.
   */
  async reconcile(options: { readonly minAgeMs?: number } = {}): Promise<RegistryRepair[]> {
    const minAgeMs = options.minAgeMs ?? DEFAULT_REPAIR_MIN_AGE_MS;
    const now = this.#now();
    const repairs: RegistryRepair[] = [];
    const champion = await this.alias('champion');
    const challenger = await this.alias('challenger');
    for (const record of [champion, challenger]) {
      if (record === undefined) continue;
      if (record.transition === undefined) {
        // Written before moves carried their transition: the entry can be looked for, not rebuilt.
        if (!(await this.#hasEntryOfMove(record.alias, record.revision))) {
          repairs.push({
            alias: record.alias,
            revision: record.revision,
            changes: [],
            unverifiable:
              'the move has no log entry and predates recorded transitions, so it cannot be rebuilt',
          });
        }
        continue;
      }
      if (now.getTime() - Date.parse(record.movedAt) < minAgeMs) continue;
      const moved: MovedAlias = {
        alias: record.alias,
        revision: record.revision,
        holder: record.modelVersion,
        movedAt: record.movedAt,
        transition: record.transition,
      };
      const changes: string[] = [];
      if (record.alias === 'challenger' && moved.holder !== null && moved.holder === champion?.modelVersion) {
        // A promotion that died before clearing the challenger alias: its challenger-set transition no longer
        // describes the version's status, so only its entry is checked, and the promotion is finished.
        changes.push(...(await this.#writeEntries(moved, moved.transition, now.toISOString())));
        await this.#clearChallengerIfHeldBy(moved.holder, {
          actor: REPAIR_ACTOR,
          reason: `repair: '${moved.holder}' was promoted but still held the challenger alias`,
          evidence: { champion: champion.modelVersion, challengerAliasRevision: record.revision },
        });
        changes.push(`cleared the challenger alias held by the champion '${moved.holder}'`);
      } else {
        changes.push(...(await this.#applyTransition(moved, now.toISOString())).changes);
      }
      if (changes.length > 0) repairs.push({ alias: record.alias, revision: record.revision, changes });
    }
    return repairs;
  }

  async #releaseChallenger(
    modelVersion: string,
    action: RegistryAction,
    toStatus: ModelStatus,
    input: TransitionInput,
  ): Promise<ModelVersionRecord> {
    requireReason(input);
    const model = await this.require(modelVersion);
    const moved = await this.#moveAlias(
      'challenger',
      null,
      (current) => {
        if (current !== modelVersion) {
          throw new RegistryConflictError(
            `'${modelVersion}' is not the challenger (the challenger is '${current}')`,
          );
        }
      },
      () => transitionOf(action, model, toStatus, null, input),
    );
    return (await this.#applyTransition(moved, undefined)).main;
  }

  async #clearChallengerIfHeldBy(modelVersion: string, input: TransitionInput): Promise<void> {
    const current = await this.alias('challenger');
    if (current?.modelVersion !== modelVersion) return;
    const moved = await this.#moveAlias(
      'challenger',
      null,
      (holder) => {
        if (holder !== modelVersion) {
          throw new RegistryConflictError(
            `the challenger alias moved to '${holder}' while promoting '${modelVersion}'`,
          );
        }
      },
      () => ({
        action: 'challenger-cleared',
        modelVersion,
        fromStatus: 'challenger',
        toStatus: 'champion',
        replaced: null,
        actor: input.actor,
        reason: input.reason,
        evidence: input.evidence ?? {},
      }),
    );
    await this.#applyTransition(moved, undefined);
  }

  /**
   * Settles what an alias move decided: the statuses, then the log entries. The version the alias now holds
   * takes the transition's status; a version that left (the alias emptied, or a displaced champion) takes its
   * new status only while it still has the status it had before the move, so a later, unrelated change of that
   * version is never undone. `repairedAt` marks a reconciliation run (entries by `system:repair`).
   */
  async #applyTransition(moved: MovedAlias, repairedAt: string | undefined): Promise<AppliedTransition> {
    const t = moved.transition;
    const changes: string[] = [];
    let main = await this.require(t.modelVersion);
    if (main.status !== t.toStatus && (moved.holder === t.modelVersion || main.status === t.fromStatus)) {
      changes.push(`status of '${main.modelVersion}': ${main.status} → ${t.toStatus}`);
      main = await this.#setStatus(main, t.toStatus);
    }
    let replaced = t.replaced === null ? undefined : await this.get(t.replaced.modelVersion);
    if (
      t.replaced !== null &&
      replaced !== undefined &&
      replaced.status === 'champion' &&
      moved.holder !== replaced.modelVersion
    ) {
      changes.push(`status of '${replaced.modelVersion}': champion → ${t.replaced.toStatus}`);
      replaced = await this.#setStatus(replaced, t.replaced.toStatus);
    }
    changes.push(...(await this.#writeEntries(moved, t, repairedAt)));
    return { main, replaced, changes };
  }

  /** The log entries of a move (the move's own, and the displaced champion's); returns what was written. */
  async #writeEntries(
    moved: Omit<MovedAlias, 'transition'>,
    t: AliasTransition,
    repairedAt: string | undefined,
  ): Promise<string[]> {
    const written: string[] = [];
    const signed = (evidence: Evidence): Pick<RegistryLogEntry, 'actor' | 'reason' | 'evidence'> =>
      repairedAt === undefined
        ? { actor: t.actor, reason: t.reason, evidence }
        : {
            actor: REPAIR_ACTOR,
            reason: `repair of a move whose log entry was lost: ${t.reason}`,
            evidence: { ...evidence, repair: { originalActor: t.actor, movedAt: moved.movedAt, repairedAt } },
          };
    const previousChampion =
      moved.alias === 'champion' ? { previousChampion: t.replaced?.modelVersion ?? null } : {};
    const entries: (Omit<RegistryLogEntry, 'at' | 'id'> & { readonly id: string })[] = [
      {
        id: `${moved.alias}-${moved.revision}`,
        modelVersion: t.modelVersion,
        action: t.action,
        fromStatus: t.fromStatus,
        toStatus: t.toStatus,
        alias: moved.alias,
        aliasRevision: moved.revision,
        ...signed({ ...t.evidence, ...previousChampion }),
      },
    ];
    if (t.replaced !== null && (await this.get(t.replaced.modelVersion)) !== undefined) {
      entries.push({
        id: `${moved.alias}-${moved.revision}-replaced`,
        modelVersion: t.replaced.modelVersion,
        action: t.replaced.toStatus === 'retired' ? 'retired' : 'rejected',
        fromStatus: 'champion',
        toStatus: t.replaced.toStatus,
        alias: moved.alias,
        aliasRevision: moved.revision,
        ...signed({ ...t.evidence, newChampion: t.modelVersion }),
      });
    }
    for (const entry of entries) {
      // Reconciliation looks before it writes, so that a run with nothing to repair writes nothing.
      if (repairedAt !== undefined && (await this.#hasEntry(entry.modelVersion, entry.id))) continue;
      if ((await this.#append(entry)).created) written.push(`log entry ${entry.modelVersion}:${entry.id}`);
    }
    return written;
  }

  async #hasEntryOfMove(alias: AliasName, revision: number): Promise<boolean> {
    const { resources } = await this.#log.items
      .query<{ id: string }>({
        query: 'SELECT l.id FROM l WHERE l.alias = @alias AND l.aliasRevision = @revision',
        parameters: [
          { name: '@alias', value: alias },
          { name: '@revision', value: revision },
        ],
      })
      .fetchAll();
    return resources.length > 0;
  }

  async #hasEntry(modelVersion: string, id: string): Promise<boolean> {
    const { resource } = await this.#log.item(`${modelVersion}:${id}`, modelVersion).read<RegistryLogEntry>();
    return resource !== undefined;
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
   * The transition travels in the same write, so no move exists without a record of what it was for.
   */
  async #moveAlias(
    alias: AliasName,
    to: string | null,
    check: (current: string | null) => void,
    plan: (current: string | null) => AliasTransition,
  ): Promise<MovedAlias> {
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
      transition: plan(current),
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
    return {
      alias,
      revision: next.revision,
      holder: to,
      movedAt: next.movedAt,
      transition: next.transition!,
    };
  }

  async #setStatus(model: ModelVersionRecord, status: ModelStatus): Promise<ModelVersionRecord> {
    const updated: ModelVersionRecord = { ...model, status, statusChangedAt: this.#now().toISOString() };
    await this.#models.item(model.id, model.id).replace(updated);
    return updated;
  }

  async #append(
    entry: Omit<RegistryLogEntry, 'at' | 'id'> & { readonly id: string },
  ): Promise<{ entry: RegistryLogEntry; created: boolean }> {
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
      return { entry: full, created: false };
    }
    return { entry: full, created: true };
  }
}

/** An alias move as written: which revision, who holds the alias after it, and what it was for. */
interface MovedAlias {
  readonly alias: AliasName;
  readonly revision: number;
  readonly holder: string | null;
  readonly movedAt: string;
  readonly transition: AliasTransition;
}

interface AppliedTransition {
  readonly main: ModelVersionRecord;
  readonly replaced: ModelVersionRecord | undefined;
  readonly changes: readonly string[];
}

function transitionOf(
  action: RegistryAction,
  model: ModelVersionRecord,
  toStatus: ModelStatus,
  replaced: AliasTransition['replaced'],
  input: TransitionInput,
): AliasTransition {
  return {
    action,
    modelVersion: model.modelVersion,
    fromStatus: model.status,
    toStatus,
    replaced,
    actor: input.actor,
    reason: input.reason,
    evidence: input.evidence ?? {},
  };
}

function replacedBy(current: string | null, toStatus: ModelStatus): AliasTransition['replaced'] {
  return current === null ? null : { modelVersion: current, toStatus };
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
