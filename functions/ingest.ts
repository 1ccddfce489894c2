import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import type {
  ActivityHandler,
  DurableClient,
  OrchestrationContext,
  OrchestrationHandler,
} from 'durable-functions';
import type { IngestSummary } from '../shared/datasets/ingest';
import {
  currentRules,
  identifyUpload,
  publishDataset,
  quarantineWholeFile,
  validateUpload,
  writeIngestionReport,
  type DatasetRecord,
  type IngestionReport,
  type UploadRef,
  type ValidationOutcome,
} from '../shared/datasets/service';
import { startOnce } from '../shared/pipelines/starter';
import { loadBlobTriggerSource } from '../shared/config';
import { BLOB_TRIGGER_CONNECTION, BLOB_TRIGGERS, blobTriggerPath } from '../shared/platform/blob-triggers';

const ORCHESTRATOR = 'ingestOrchestrator';
const ACTIVITY = {
  validate: 'ingestValidate',
  quarantineFile: 'ingestQuarantineFile',
  publish: 'ingestPublish',
  report: 'ingestReport',
} as const;

/** Storage hiccups are retried; a bad file is not an error and never reaches this. */
const activityRetry = new df.RetryOptions(2000, 3);

/**
 * A new or changed blob in `incoming/`: starts one ingestion per (name, content). The instance id derives from
 * both, so uploading the same file again finds the earlier instance and starts nothing.
 */
export async function ingestUploadTrigger(
  _blob: unknown,
  client: DurableClient,
  context: InvocationContext,
): Promise<void> {
  const name = context.triggerMetadata?.name;
  const properties = context.triggerMetadata?.properties as { eTag?: unknown } | undefined;
  if (typeof name !== 'string' || typeof properties?.eTag !== 'string') {
    throw new Error('blob trigger metadata lacks name or properties.eTag');
  }
  // The content is hashed again as a stream (pinned to the ETag) rather than from the delivered buffer, so the
  // ingestion never depends on the whole file sitting in memory.
  const upload = await identifyUpload(name, properties.eTag);
  const result = await startOnce(client, ORCHESTRATOR, upload.ingestionId, upload);
  context.log(
    result.started
      ? `incoming/${name}: ingestion ${upload.ingestionId} started (${upload.size} bytes)`
      : `incoming/${name}: already ingested as ${upload.ingestionId} (${result.existingStatus}); nothing to do`,
  );
}

/** What the orchestration returns (and leaves as its output). */
export interface IngestionResult {
  readonly ingestionId: string;
  readonly outcome: IngestionReport['outcome'];
  readonly datasetVersion?: string;
  readonly report: string;
}

export const ingestOrchestrator: OrchestrationHandler = function* (context: OrchestrationContext) {
  const upload = context.df.getInput<UploadRef>();
  const startedAt = context.df.currentUtcDateTime.toISOString();
  context.df.setCustomStatus({ stage: 'validating' });
  const validated = (yield context.df.callActivityWithRetry(
    ACTIVITY.validate,
    activityRetry,
    upload,
  )) as ValidationOutcome;
  const base = {
    ingestionId: upload.ingestionId,
    blobName: upload.blobName,
    contentSha256: upload.contentSha256,
    size: upload.size,
    startedAt,
  };
  let report: Omit<IngestionReport, 'finishedAt' | 'rules'>;
  if (validated.kind === 'unparseable') {
    context.df.setCustomStatus({ stage: 'quarantining file' });
    const quarantined = (yield context.df.callActivityWithRetry(ACTIVITY.quarantineFile, activityRetry, {
      upload,
      reason: validated.reason,
    })) as string;
    report = {
      ...base,
      outcome: 'file-quarantined',
      received: 0,
      accepted: 0,
      rejected: 0,
      rejectedByReason: {},
      quarantined,
      fileRejectionReason: validated.reason,
    };
  } else {
    const summary = validated.summary;
    let dataset: DatasetRecord | undefined;
    if (summary.version !== undefined) {
      context.df.setCustomStatus({ stage: 'publishing', version: summary.version });
      dataset = (yield context.df.callActivityWithRetry(ACTIVITY.publish, activityRetry, {
        upload,
        summary,
        ingestedAt: startedAt,
      })) as DatasetRecord;
    }
    report = {
      ...base,
      outcome: dataset === undefined ? 'no-accepted-rows' : 'dataset',
      format: summary.format,
      received: summary.received,
      accepted: summary.accepted,
      rejected: summary.rejected,
      rejectedByReason: summary.rejectedByReason,
      ...(dataset === undefined ? {} : { datasetVersion: dataset.version, classCount: dataset.classCount }),
      ...(validated.rejectedRowsBlob === undefined ? {} : { quarantined: validated.rejectedRowsBlob }),
    };
  }
  context.df.setCustomStatus({ stage: 'reporting' });
  const finishedAt = context.df.currentUtcDateTime.toISOString();
  const reportBlob = (yield context.df.callActivityWithRetry(ACTIVITY.report, activityRetry, {
    ...report,
    finishedAt,
  })) as string;
  context.df.setCustomStatus({ stage: 'done', outcome: report.outcome });
  const result: IngestionResult = {
    ingestionId: upload.ingestionId,
    outcome: report.outcome,
    ...(report.datasetVersion === undefined ? {} : { datasetVersion: report.datasetVersion }),
    report: reportBlob,
  };
  return result;
};

export const ingestValidate: ActivityHandler = async (upload: UploadRef, context: InvocationContext) => {
  try {
    return await validateUpload(upload);
  } catch (error: unknown) {
    context.error(
      `validating ${upload.blobName} failed: ${error instanceof Error ? error.message : String(error)}`,
    );
    throw error;
  }
};

export const ingestQuarantineFile: ActivityHandler = async (input: { upload: UploadRef; reason: string }) =>
  quarantineWholeFile(input.upload, input.reason);

export const ingestPublish: ActivityHandler = async (input: {
  upload: UploadRef;
  summary: IngestSummary;
  ingestedAt: string;
}) => publishDataset(input.upload, input.summary, input.ingestedAt);

export const ingestReport: ActivityHandler = async (report: Omit<IngestionReport, 'rules'>) =>
  writeIngestionReport({ ...report, rules: currentRules() });

// The source is read at registration: on Flex Consumption only 'EventGrid' fires (BLOB_TRIGGER_SOURCE, set by
// the stack along with the Event Grid subscription that delivers to this function).
df.app.client.storageBlob(BLOB_TRIGGERS.ingestUpload.functionName, {
  path: blobTriggerPath(BLOB_TRIGGERS.ingestUpload),
  connection: BLOB_TRIGGER_CONNECTION,
  source: loadBlobTriggerSource(process.env),
  handler: ingestUploadTrigger,
});
df.app.orchestration(ORCHESTRATOR, ingestOrchestrator);
df.app.activity(ACTIVITY.validate, { handler: ingestValidate });
df.app.activity(ACTIVITY.quarantineFile, { handler: ingestQuarantineFile });
df.app.activity(ACTIVITY.publish, { handler: ingestPublish });
df.app.activity(ACTIVITY.report, { handler: ingestReport });
