/**
 * Model registry records. A model version's document says what it is (package, hash, metrics, lineage) and its
 * status; alias documents say which version is champion or challenger now. The aliases are the source of truth
 * for serving: every move goes through an etag-guarded replace of an alias document, so two deciders racing on
 * the same alias cannot both win, and each move is appended to the `registry-log` container.
 */

export type ModelStatus = 'candidate' | 'challenger' | 'champion' | 'retired' | 'rejected';

export type AliasName = 'champion' | 'challenger';

export const ALIAS_NAMES: readonly AliasName[] = ['champion', 'challenger'];

/** Who made a change: the decision timer, a pipeline, or a named person. */
export interface Actor {
  readonly kind: 'system' | 'person';
  /** A function name for `system`, a user principal or e-mail for `person`. */
  readonly id: string;
}

/** Where a model came from: enough to retrain it and to explain it to an auditor. */
export interface ModelLineage {
  readonly datasetVersion: string;
  readonly datasetHash: string;
  readonly codeVersion: string;
  readonly seed: number;
  readonly hyperParameters: Readonly<Record<string, unknown>>;
  readonly architecture: string;
}

/** One model version (Cosmos `models`, id = model version). */
export interface ModelVersionRecord {
  readonly id: string;
  readonly kind: 'model';
  readonly modelVersion: string;
  readonly status: ModelStatus;
  /** Blob container and prefix of the package, e.g. `models` and `v3/`. */
  readonly packageContainer: string;
  readonly packagePrefix: string;
  /** sha256 of manifest.json, which lists every file's sha256: it identifies the whole package. */
  readonly packageHash: string;
  readonly metrics: Readonly<Record<string, number>>;
  readonly lineage: ModelLineage;
  /** When the package was built (manifest) and when it was registered. */
  readonly builtAt: string;
  readonly registeredAt: string;
  readonly statusChangedAt: string;
}

/** What a transition carries into the log: statistics, a decision, a ticket. Free-form JSON. */
export type Evidence = Readonly<Record<string, unknown>>;

/** The document behind an alias (Cosmos `models`, id `alias:<name>`). */
export interface AliasRecord {
  readonly id: `alias:${AliasName}`;
  readonly kind: 'alias';
  readonly alias: AliasName;
  /** Undefined (null in JSON) when the alias is empty, e.g. no challenger between experiments. */
  readonly modelVersion: string | null;
  /** The version it pointed to before the last move; rollback returns there. */
  readonly previousVersion: string | null;
  /** Increases by one per move; with the alias it names the log entry of that move. */
  readonly revision: number;
  readonly movedAt: string;
  /**
   * The transition this move belongs to, written in the same etag-guarded replace as the move itself: when the
   * status writes or the log entry that follow the move are lost to a crash, reconciliation completes them from
   * here instead of guessing. Absent on documents written before it existed.
   */
  readonly transition?: AliasTransition;
}

/** What an alias move is for: the log entry it owes and the statuses it settles. */
export interface AliasTransition {
  readonly action: RegistryAction;
  /** The version the move's log entry is about: the one arriving, or the one leaving when the alias empties. */
  readonly modelVersion: string;
  readonly fromStatus: ModelStatus | null;
  readonly toStatus: ModelStatus;
  /** The champion a promotion or rollback displaced (it was 'champion') and the status it steps down to. */
  readonly replaced: { readonly modelVersion: string; readonly toStatus: ModelStatus } | null;
  readonly actor: Actor;
  readonly reason: string;
  readonly evidence: Evidence;
}

export type RegistryAction =
  | 'registered'
  | 'challenger-set'
  | 'challenger-cleared'
  | 'promoted'
  | 'retired'
  | 'rejected'
  | 'rolled-back'
  | 'decision';

/** One append-only audit entry (Cosmos `registry-log`, partitioned by model version). */
export interface RegistryLogEntry {
  readonly id: string;
  readonly modelVersion: string;
  readonly at: string;
  readonly action: RegistryAction;
  readonly actor: Actor;
  readonly reason: string;
  readonly fromStatus: ModelStatus | null;
  readonly toStatus: ModelStatus | null;
  /** Set when the entry records an alias move. */
  readonly alias: AliasName | null;
  readonly aliasRevision: number | null;
  readonly evidence: Evidence;
}

/** Thrown when a transition is not allowed from the current state (maps to HTTP 409). */
export class RegistryConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RegistryConflictError';
  }
}

/** Thrown when a model version is not registered (maps to HTTP 404). */
export class ModelNotFoundError extends Error {
  constructor(readonly modelVersion: string) {
    super(`model version '${modelVersion}' is not registered`);
    this.name = 'ModelNotFoundError';
  }
}
