/**
 * Blob triggers, the way the Functions host's polling scan behaves: list the container of each `blobTrigger`
 * path, fire once per new or changed blob (by ETag), and write a receipt blob under
 * `azure-webjobs-hosts/blobreceipts/<hostId>/<function>/<etag>/BlockBlob/<container>/<blob>` after the blob is
 * handled, so a restarted host does not fire again. A blob whose function fails 5 times goes, as a message, to
 * the `webjobs-blobtrigger-poison` queue (and gets its receipt).
 *
 * Both trigger sources are served by this scan. A trigger with `source: 'EventGrid'` (what Flex Consumption
 * requires) is delivered in Azure by an Event Grid subscription calling the host's `blobs_extension` webhook;
 * Azurite publishes no events, so here the scan stands in for that delivery, with the same binding data.
 */
import { BlobServiceClient, RestError, type BlobItem, type ContainerClient } from '@azure/storage-blob';
import { QueueClient } from '@azure/storage-queue';
import type { RpcTypedData } from '../core-types';
import type { RegisteredFunction } from '../registry';
import { bindingOption, storageConnectionString } from '../settings';
import { parseBlobPath, type BlobPathPattern } from './blob-path';
import { errorMessage, PollingLoop, type TriggerEnvironment, type TriggerListener } from './trigger';

export const BLOB_POISON_QUEUE = 'webjobs-blobtrigger-poison';
const HOSTS_CONTAINER = 'azure-webjobs-hosts';

/** The `source` values the Functions host accepts for a blob trigger; absent means `LogsAndContainerScan`. */
export const BLOB_TRIGGER_SOURCES = ['LogsAndContainerScan', 'EventGrid'] as const;
export type BlobTriggerSource = (typeof BLOB_TRIGGER_SOURCES)[number];

/**
 * A blob trigger's `source` option, checked as the host would: an unknown value is an indexing error there, so
 * it is one here rather than a trigger that quietly scans.
 */
export function blobTriggerSourceOf(fn: RegisteredFunction): BlobTriggerSource {
  const source = fn.trigger.source;
  if (source === undefined || source === null) return 'LogsAndContainerScan';
  const known = BLOB_TRIGGER_SOURCES.find((candidate) => candidate === source);
  if (known === undefined) {
    throw new Error(
      `Function "${fn.name}": blob trigger source must be ${BLOB_TRIGGER_SOURCES.join(' or ')}, got ${JSON.stringify(source)}`,
    );
  }
  return known;
}

export interface BlobTriggerOptions {
  /** Pause between container scans. Default 1000 ms. */
  pollIntervalMs?: number;
  /** Attempts per blob version before it is poisoned (the host's `maxDequeueCount`). Default 5. */
  maxAttempts?: number;
}

interface WatchedFunction {
  fn: RegisteredFunction;
  /** Recorded for the log only: both sources are delivered by the scan (see the file comment). */
  source: BlobTriggerSource;
  pattern: BlobPathPattern;
  container: ContainerClient;
  connectionString: string;
  /** Blob name → ETag already handled in this process (receipts cover restarts). */
  handled: Map<string, string>;
}

export class BlobTriggerListener implements TriggerListener {
  readonly #env: TriggerEnvironment;
  readonly #maxAttempts: number;
  readonly #receipts: ContainerClient;
  readonly #watched: WatchedFunction[];
  readonly #loop: PollingLoop;

  constructor(env: TriggerEnvironment, options: BlobTriggerOptions = {}) {
    this.#env = env;
    this.#maxAttempts = options.maxAttempts ?? 5;
    this.#receipts = BlobServiceClient.fromConnectionString(env.storageConnectionString).getContainerClient(
      HOSTS_CONTAINER,
    );
    this.#watched = env.registry.byTriggerType('blobTrigger').map((fn) => {
      const source = blobTriggerSourceOf(fn);
      const pattern = parseBlobPath(bindingOption(fn.trigger, 'path', `Function "${fn.name}"`, env.settings));
      const connectionString = storageConnectionString(fn.trigger.connection, env.settings);
      const container = BlobServiceClient.fromConnectionString(connectionString).getContainerClient(
        pattern.container,
      );
      return { fn, source, pattern, container, connectionString, handled: new Map<string, string>() };
    });
    this.#loop = new PollingLoop(
      'blob trigger',
      options.pollIntervalMs ?? 1000,
      () => this.pollOnce(),
      env.log,
    );
  }

  async start(): Promise<void> {
    if (this.#watched.length === 0) return;
    for (const watched of this.#watched.filter((w) => w.source === 'EventGrid')) {
      this.#env.log(
        'information',
        `Function "${watched.fn.name}" uses the EventGrid source: scanning ${watched.pattern.container} locally ` +
          'as the stand-in for Event Grid delivery',
      );
    }
    await this.#receipts.createIfNotExists();
    this.#loop.start();
  }

  async stop(): Promise<void> {
    await this.#loop.stop();
  }

  /** One scan of every watched container; blobs are handled one at a time. */
  async pollOnce(): Promise<void> {
    for (const watched of this.#watched) {
      for (const blob of await listBlobs(watched)) {
        const bindingData = watched.pattern.match(blob.name);
        const etag = blob.properties.etag;
        if (!bindingData || !etag || watched.handled.get(blob.name) === etag) continue;
        const receipt = this.#receipts.getBlockBlobClient(
          receiptName(this.#env.hostId, watched, blob.name, etag),
        );
        if (!(await receipt.exists())) {
          const handled = await this.#fire(watched, blob, etag, bindingData);
          if (!handled) continue; // the blob changed while we read it: the next scan sees the new version
          await receipt.upload('', 0);
        }
        watched.handled.set(blob.name, etag);
      }
    }
  }

  /** Returns false when the blob's version vanished before it could be read. */
  async #fire(
    watched: WatchedFunction,
    blob: BlobItem,
    etag: string,
    bindingData: Record<string, string>,
  ): Promise<boolean> {
    const blobClient = watched.container.getBlobClient(blob.name);
    let content: Buffer;
    try {
      content = await blobClient.downloadToBuffer(0, undefined, { conditions: { ifMatch: etag } });
    } catch (err: unknown) {
      if (err instanceof RestError && (err.statusCode === 412 || err.statusCode === 404)) return false;
      throw err;
    }
    const triggerMetadata: Record<string, RpcTypedData> = {
      BlobTrigger: { string: `${watched.pattern.container}/${blob.name}` },
      Uri: { string: blobClient.url },
      Properties: { json: JSON.stringify(blobProperties(blob, etag)) },
      Metadata: { json: JSON.stringify(blob.metadata ?? {}) },
    };
    for (const [name, value] of Object.entries(bindingData)) triggerMetadata[name] = { string: value };

    const fnName = watched.fn.name;
    for (let attempt = 1; attempt <= this.#maxAttempts; attempt++) {
      try {
        await this.#env.registry.invoke(fnName, { triggerData: { bytes: content }, triggerMetadata });
        return true;
      } catch (err: unknown) {
        this.#env.log(
          'error',
          `Blob trigger ${fnName} failed for ${blob.name} (attempt ${attempt}): ${errorMessage(err)}`,
        );
      }
    }
    const poison = new QueueClient(watched.connectionString, BLOB_POISON_QUEUE);
    await poison.createIfNotExists();
    const message = {
      Type: 'BlobTrigger',
      FunctionId: `Host.Functions.${fnName}`,
      BlobType: 'BlockBlob',
      ContainerName: watched.pattern.container,
      BlobName: blob.name,
      // The host reports the HTTP form of the ETag, quotes included; listings return it bare.
      ETag: etag.startsWith('"') ? etag : `"${etag}"`,
    };
    await poison.sendMessage(Buffer.from(JSON.stringify(message)).toString('base64'));
    this.#env.log(
      'warning',
      `Blob ${blob.name} moved to ${BLOB_POISON_QUEUE} after ${this.#maxAttempts} attempts`,
    );
    return true;
  }
}

async function listBlobs(watched: WatchedFunction): Promise<BlobItem[]> {
  const blobs: BlobItem[] = [];
  try {
    for await (const blob of watched.container.listBlobsFlat({
      prefix: watched.pattern.prefix,
      includeMetadata: true,
    })) {
      blobs.push(blob);
    }
  } catch (err: unknown) {
    // A container that does not exist yet simply has no blobs to trigger on.
    if (err instanceof RestError && err.statusCode === 404) return [];
    throw err;
  }
  return blobs;
}

function receiptName(hostId: string, watched: WatchedFunction, blobName: string, etag: string): string {
  const cleanEtag = etag.replace(/"/g, '');
  return `blobreceipts/${hostId}/Host.Functions.${watched.fn.name}/${cleanEtag}/BlockBlob/${watched.pattern.container}/${blobName}`;
}

/** The BlobProperties object as the host serialises it (PascalCase; the library camel-cases the keys). */
function blobProperties(blob: BlobItem, etag: string): Record<string, unknown> {
  const p = blob.properties;
  return {
    BlobType: p.blobType ?? 'BlockBlob',
    ContentLength: p.contentLength,
    ContentType: p.contentType,
    ContentEncoding: p.contentEncoding,
    ContentLanguage: p.contentLanguage,
    ContentMD5: p.contentMD5 ? Buffer.from(p.contentMD5).toString('base64') : undefined,
    CacheControl: p.cacheControl,
    CreatedOn: p.createdOn?.toISOString(),
    LastModified: p.lastModified.toISOString(),
    // The host reports the HTTP form of the ETag, quotes included; listings return it bare.
    ETag: etag.startsWith('"') ? etag : `"${etag}"`,
    AccessTier: p.accessTier,
  };
}
