/**
 * Ingestion against storage: uploads are read from Blob as streams (twice, pinned to the ETag the trigger saw),
 * accepted rows go to an immutable, content-addressed dataset version under `datasets/<version>/`, rejected rows
 * to `quarantine/<ingestion>/rejected-rows.jsonl`, whole unparseable files to `quarantine/<ingestion>/`, reports
 * to `reports/ingestion/`, and dataset records (counts, class distribution, lineage) to the Cosmos `datasets`
 * container. Every step is idempotent, so a retried activity or a replayed orchestration does no harm.
 */
import { createHash } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import type { Container } from '@azure/cosmos';
import { RestError, type BlobServiceClient, type BlockBlobClient } from '@azure/storage-blob';
import { getConfig, type AppConfig } from '../config';
import { loadNomenclature } from '../hs/nomenclature';
import { getPlatformClients } from '../platform/clients';
import { BLOB_CONTAINERS, COSMOS_CONTAINERS } from '../platform/resources';
import { ingestUpload, type IngestSummary } from './ingest';
import { formatFromName } from './rows';
import { UnparseableFileError, type DatasetFileFormat } from './types';

/** What the blob trigger hands the orchestration: one version of one upload. */
export interface UploadRef {
  /** Blob name inside `incoming/`. */
  readonly blobName: string;
  /** The version the trigger saw; every read is pinned to it. */
  readonly etag: string;
  readonly contentSha256: string;
  readonly size: number;
  /** Orchestration instance id, derived from the name and the content hash. */
  readonly ingestionId: string;
}

export interface DatasetTargets {
  readonly blobs: BlobServiceClient;
  readonly datasets: Container;
  readonly config: Pick<AppConfig, 'ingestMaxDescriptionLength' | 'ingestUnlistedCodePolicy'>;
}

function defaultTargets(): DatasetTargets {
  const clients = getPlatformClients();
  return {
    blobs: clients.dataBlobs,
    datasets: clients.database.container(COSMOS_CONTAINERS.datasets.id),
    config: getConfig(),
  };
}

/**
 * A durable instance id for an upload: readable name part, plus hashes of the full name and of the content, so
 * the same bytes under the same name are one ingestion however often they are uploaded. At most 100 characters
 * of [A-Za-z0-9._-], as instance ids must avoid '/', '\\', '#' and '?'.
 */
export function ingestionIdFor(blobName: string, contentSha256: string): string {
  const slug = blobName.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 40);
  const nameHash = createHash('sha256').update(blobName).digest('hex').slice(0, 8);
  return `ingest-${slug}-${nameHash}-${contentSha256.slice(0, 32)}`;
}

function incoming(targets: DatasetTargets, blobName: string): BlockBlobClient {
  return targets.blobs.getContainerClient(BLOB_CONTAINERS.incoming).getBlockBlobClient(blobName);
}

async function openPinned(blob: BlockBlobClient, etag: string): Promise<Readable> {
  const response = await blob.download(0, undefined, { conditions: { ifMatch: etag } });
  const body = response.readableStreamBody;
  if (body === undefined) throw new Error(`download of ${blob.name} returned no body`);
  return body as Readable;
}

/** Hashes one version of an upload as a stream; the trigger derives the instance id from it. */
export async function identifyUpload(
  blobName: string,
  etag: string,
  targets: DatasetTargets = defaultTargets(),
): Promise<UploadRef> {
  const digest = createHash('sha256');
  let size = 0;
  for await (const chunk of await openPinned(incoming(targets, blobName), etag)) {
    const bytes = chunk as Buffer;
    size += bytes.byteLength;
    digest.update(bytes);
  }
  const contentSha256 = digest.digest('hex');
  return { blobName, etag, contentSha256, size, ingestionId: ingestionIdFor(blobName, contentSha256) };
}

/** Streams lines into a block blob, creating it only when the first line comes. */
class LineUploader {
  #stream: PassThrough | undefined;
  #upload: Promise<unknown> | undefined;
  constructor(
    private readonly blob: BlockBlobClient,
    private readonly contentType: string,
  ) {}

  async write(line: string): Promise<void> {
    if (this.#stream === undefined) {
      const stream = new PassThrough();
      this.#stream = stream;
      this.#upload = this.blob.uploadStream(stream, 4 * 1024 * 1024, 2, {
        blobHTTPHeaders: { blobContentType: this.contentType },
      });
      // Surfaced by finish(); without a handler an early failure would crash the process.
      this.#upload.catch(() => undefined);
    }
    if (!this.#stream.write(line)) await new Promise<void>((resolve) => this.#stream!.once('drain', resolve));
  }

  /** Ends the blob; true when anything was written. */
  async finish(): Promise<boolean> {
    if (this.#stream === undefined) return false;
    this.#stream.end();
    await this.#upload;
    return true;
  }
}

export function stagingPath(ingestionId: string): string {
  return `_staging/${ingestionId}/rows.csv`;
}

export function rejectedRowsPath(ingestionId: string): string {
  return `${ingestionId}/rejected-rows.jsonl`;
}

export type ValidationOutcome =
  | { readonly kind: 'rows'; readonly summary: IngestSummary; readonly rejectedRowsBlob: string | undefined }
  | { readonly kind: 'unparseable'; readonly reason: string };

/** Parses and validates an upload, staging accepted rows and writing the quarantine file. */
export async function validateUpload(
  upload: UploadRef,
  targets: DatasetTargets = defaultTargets(),
): Promise<ValidationOutcome> {
  const format: DatasetFileFormat | undefined =
    formatFromName(upload.blobName) ?? (await sniffFormat(upload, targets));
  const source = incoming(targets, upload.blobName);
  const accepted = new LineUploader(
    targets.blobs
      .getContainerClient(BLOB_CONTAINERS.datasets)
      .getBlockBlobClient(stagingPath(upload.ingestionId)),
    'text/csv; charset=utf-8',
  );
  const rejected = new LineUploader(
    targets.blobs
      .getContainerClient(BLOB_CONTAINERS.quarantine)
      .getBlockBlobClient(rejectedRowsPath(upload.ingestionId)),
    'application/x-ndjson; charset=utf-8',
  );
  let summary: IngestSummary;
  try {
    summary = await ingestUpload(
      {
        open: () => pinnedChunks(source, upload.etag),
        format,
        nomenclature: loadNomenclature(),
        rules: {
          maxDescriptionLength: targets.config.ingestMaxDescriptionLength,
          labels: { level: 6, unlistedPolicy: targets.config.ingestUnlistedCodePolicy },
        },
      },
      { accepted: (line) => accepted.write(line), rejected: (line) => rejected.write(line) },
    );
  } catch (error: unknown) {
    if (error instanceof UnparseableFileError) return { kind: 'unparseable', reason: error.message };
    throw error;
  }
  await accepted.finish();
  const wroteRejected = await rejected.finish();
  return {
    kind: 'rows',
    summary,
    rejectedRowsBlob: wroteRejected
      ? `${BLOB_CONTAINERS.quarantine}/${rejectedRowsPath(upload.ingestionId)}`
      : undefined,
  };
}

async function* pinnedChunks(blob: BlockBlobClient, etag: string): AsyncGenerator<Buffer> {
  for await (const chunk of await openPinned(blob, etag)) yield chunk as Buffer;
}

/** A name without a known extension: JSON Lines when the first non-blank character opens an object. */
async function sniffFormat(upload: UploadRef, targets: DatasetTargets): Promise<DatasetFileFormat> {
  const head = await incoming(targets, upload.blobName).download(0, 4096, {
    conditions: { ifMatch: upload.etag },
  });
  let text = '';
  for await (const chunk of head.readableStreamBody as Readable) text += (chunk as Buffer).toString('utf8');
  return text
    .replace(/^\uFEFF/, '')
    .trimStart()
    .startsWith('{')
    ? 'jsonl'
    : 'csv';
}

/** Moves an unparseable upload to `quarantine/<ingestion>/<name>` with `reason.json` beside it. */
export async function quarantineWholeFile(
  upload: UploadRef,
  reason: string,
  targets: DatasetTargets = defaultTargets(),
): Promise<string> {
  const quarantine = targets.blobs.getContainerClient(BLOB_CONTAINERS.quarantine);
  const target = quarantine.getBlockBlobClient(`${upload.ingestionId}/${upload.blobName}`);
  const source = incoming(targets, upload.blobName);
  if (!(await target.exists())) {
    const copy = await target.beginCopyFromURL(source.url, { sourceConditions: { ifMatch: upload.etag } });
    await copy.pollUntilDone();
  }
  const note = JSON.stringify(
    {
      ingestionId: upload.ingestionId,
      blobName: upload.blobName,
      contentSha256: upload.contentSha256,
      reason,
    },
    null,
    2,
  );
  await quarantine
    .getBlockBlobClient(`${upload.ingestionId}/reason.json`)
    .upload(note, Buffer.byteLength(note), {
      blobHTTPHeaders: { blobContentType: 'application/json' },
    });
  // Moved, not copied: the upload is gone from incoming/ once it is safe in quarantine.
  await source.deleteIfExists({ conditions: { ifMatch: upload.etag } }).catch((error: unknown) => {
    if (error instanceof RestError && error.statusCode === 412) return; // a newer upload replaced it: keep that one
    throw error;
  });
  return `${BLOB_CONTAINERS.quarantine}/${upload.ingestionId}/${upload.blobName}`;
}

/** One upload that produced (or reproduced) a dataset version. */
export interface DatasetLineage {
  readonly ingestionId: string;
  readonly blobName: string;
  readonly contentSha256: string;
  readonly ingestedAt: string;
  readonly received: number;
  readonly accepted: number;
  readonly rejected: number;
}

/** The Cosmos record of a dataset version (partition key `/id` = the version). */
export interface DatasetRecord {
  readonly id: string;
  readonly version: string;
  /** SHA-256 of `rows.csv`. */
  readonly contentSha256: string;
  readonly format: 'csv';
  readonly rowsBlob: string;
  readonly manifestBlob: string;
  readonly rows: number;
  readonly classCount: number;
  readonly classDistribution: Record<string, number>;
  readonly statusCounts: Record<'listed' | 'mapped' | 'unlisted', number>;
  readonly labelPolicy: { readonly level: 6; readonly unlistedPolicy: string };
  readonly createdAt: string;
  readonly lineage: readonly DatasetLineage[];
}

/**
 * Makes the staged rows the dataset version `summary.version` (unless it exists already: content-addressed, so
 * it is the same bytes), writes its manifest once, and records the upload in the version's lineage.
 */
export async function publishDataset(
  upload: UploadRef,
  summary: IngestSummary,
  ingestedAt: string,
  targets: DatasetTargets = defaultTargets(),
): Promise<DatasetRecord> {
  const version = summary.version;
  if (version === undefined || summary.contentSha256 === undefined)
    throw new Error('nothing accepted: no dataset to publish');
  const datasets = targets.blobs.getContainerClient(BLOB_CONTAINERS.datasets);
  const staged = datasets.getBlockBlobClient(stagingPath(upload.ingestionId));
  const rows = datasets.getBlockBlobClient(`${version}/rows.csv`);
  if (!(await rows.exists())) {
    const copy = await rows.beginCopyFromURL(staged.url);
    await copy.pollUntilDone();
  }
  const lineage: DatasetLineage = {
    ingestionId: upload.ingestionId,
    blobName: upload.blobName,
    contentSha256: upload.contentSha256,
    ingestedAt,
    received: summary.received,
    accepted: summary.accepted,
    rejected: summary.rejected,
  };
  const fresh: DatasetRecord = {
    id: version,
    version,
    contentSha256: summary.contentSha256,
    format: 'csv',
    rowsBlob: `${BLOB_CONTAINERS.datasets}/${version}/rows.csv`,
    manifestBlob: `${BLOB_CONTAINERS.datasets}/${version}/manifest.json`,
    rows: summary.accepted,
    classCount: Object.keys(summary.classDistribution).length,
    classDistribution: summary.classDistribution,
    statusCounts: summary.statusCounts,
    labelPolicy: { level: 6, unlistedPolicy: targets.config.ingestUnlistedCodePolicy },
    createdAt: ingestedAt,
    lineage: [lineage],
  };
  const manifest = JSON.stringify({ ...fresh, lineage: undefined, source: lineage }, null, 2);
  try {
    await datasets
      .getBlockBlobClient(`${version}/manifest.json`)
      .upload(manifest, Buffer.byteLength(manifest), {
        conditions: { ifNoneMatch: '*' },
        blobHTTPHeaders: { blobContentType: 'application/json' },
      });
  } catch (error: unknown) {
    // The manifest of an existing version is immutable: the first upload's stays.
    if (!(error instanceof RestError && (error.statusCode === 409 || error.statusCode === 412))) throw error;
  }
  const record = await recordLineage(targets.datasets, fresh, lineage);
  await staged.deleteIfExists();
  return record;
}

/** Creates the record, or appends this upload to an existing one's lineage (optimistic concurrency). */
async function recordLineage(
  container: Container,
  fresh: DatasetRecord,
  lineage: DatasetLineage,
): Promise<DatasetRecord> {
  for (let attempt = 1; ; attempt++) {
    const existing = await container.item(fresh.id, fresh.id).read<DatasetRecord>();
    try {
      if (existing.resource === undefined) {
        await container.items.create(fresh);
        return fresh;
      }
      const current = existing.resource;
      if (current.lineage.some((entry) => entry.ingestionId === lineage.ingestionId)) return current;
      const updated: DatasetRecord = { ...current, lineage: [...current.lineage, lineage] };
      await container
        .item(fresh.id, fresh.id)
        .replace(updated, { accessCondition: { type: 'IfMatch', condition: existing.etag ?? '' } });
      return updated;
    } catch (error: unknown) {
      const code = typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
      if ((code === 409 || code === 412) && attempt < 5) continue; // another upload of the same data won the race
      throw error;
    }
  }
}

/** The ingestion report written to `reports/ingestion/<ingestion>.json`. */
export interface IngestionReport {
  readonly ingestionId: string;
  readonly blobName: string;
  readonly contentSha256: string;
  readonly size: number;
  readonly outcome: 'dataset' | 'no-accepted-rows' | 'file-quarantined';
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly format?: DatasetFileFormat;
  readonly received: number;
  readonly accepted: number;
  readonly rejected: number;
  readonly rejectedByReason: Record<string, number>;
  readonly datasetVersion?: string;
  readonly classCount?: number;
  readonly quarantined?: string;
  readonly fileRejectionReason?: string;
  readonly rules: { readonly maxDescriptionLength: number; readonly unlistedCodePolicy: string };
}

export function reportPath(ingestionId: string): string {
  return `ingestion/${ingestionId}.json`;
}

export function currentRules(targets: DatasetTargets = defaultTargets()): IngestionReport['rules'] {
  return {
    maxDescriptionLength: targets.config.ingestMaxDescriptionLength,
    unlistedCodePolicy: targets.config.ingestUnlistedCodePolicy,
  };
}

export async function writeIngestionReport(
  report: IngestionReport,
  targets: DatasetTargets = defaultTargets(),
): Promise<string> {
  const text = JSON.stringify(report, null, 2);
  await targets.blobs
    .getContainerClient(BLOB_CONTAINERS.reports)
    .getBlockBlobClient(reportPath(report.ingestionId))
    .upload(text, Buffer.byteLength(text), { blobHTTPHeaders: { blobContentType: 'application/json' } });
  return `${BLOB_CONTAINERS.reports}/${reportPath(report.ingestionId)}`;
}

/** A dataset version without its class distribution, for listings. */
export type DatasetListItem = Omit<DatasetRecord, 'classDistribution'>;

export async function listDatasets(targets: DatasetTargets = defaultTargets()): Promise<DatasetListItem[]> {
  const { resources } = await targets.datasets.items.query<DatasetRecord>('SELECT * FROM c').fetchAll();
  return resources
    .map(({ classDistribution: _omitted, ...rest }) => stripSystemFields(rest))
    .sort((a, b) =>
      a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.id.localeCompare(b.id),
    );
}

export async function getDataset(
  version: string,
  targets: DatasetTargets = defaultTargets(),
): Promise<DatasetRecord | undefined> {
  const { resource } = await targets.datasets.item(version, version).read<DatasetRecord>();
  return resource === undefined ? undefined : stripSystemFields(resource);
}

/** Drops Cosmos's `_rid`, `_etag`, ... so API answers show only the record. */
function stripSystemFields<T extends object>(item: T): T {
  return Object.fromEntries(Object.entries(item).filter(([key]) => !key.startsWith('_'))) as T;
}
