/**
 * The app's blob-triggered functions, declared once: functions/ registers them from here, and infra/ subscribes
 * each one to the data account's Event Grid events, so the function names, containers and paths cannot drift
 * apart (infra/ must not import functions/, which registers handlers as it loads).
 */
import { BLOB_CONTAINERS, type BlobContainerName } from './resources';

export interface BlobTriggerSpec {
  /** The registered function name; the host addresses it as `Host.Functions.<functionName>`. */
  readonly functionName: string;
  /** Container in `DataStorage` the trigger watches. */
  readonly container: BlobContainerName;
  /** Path inside the container, with `{name}`-style binding parameters (no `%setting%` expressions). */
  readonly blobPath: string;
}

/** Connection (app setting prefix) of every blob trigger: the data account. */
export const BLOB_TRIGGER_CONNECTION = 'DataStorage';

export const BLOB_TRIGGERS = {
  /** A new or changed upload starts one ingestion. */
  ingestUpload: { functionName: 'ingestUpload', container: BLOB_CONTAINERS.incoming, blobPath: '{name}' },
  /** A dataset version's manifest, written once when the version is created, starts one retraining. */
  retrainOnDataset: {
    functionName: 'retrainOnDataset',
    container: BLOB_CONTAINERS.datasets,
    blobPath: '{version}/manifest.json',
  },
} as const satisfies Record<string, BlobTriggerSpec>;

/** The trigger's `path` option: `<container>/<blob path>`. */
export function blobTriggerPath(spec: BlobTriggerSpec): string {
  return `${spec.container}/${spec.blobPath}`;
}
