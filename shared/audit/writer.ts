/**
 * Writes audit records off the response path without losing any. `enqueue` only appends to an in-memory
 * buffer; a background drain writes batches to Cosmos. When Cosmos fails or is slower than `writeTimeoutMs`,
 * the batch is spilled to Blob (`audit-spill/pending/...`) instead and the writer stops trying Cosmos for
 * `backoffMs`, so a Cosmos outage costs the response path nothing. `replaySpilled` (run periodically and on
 * demand) moves spilled batches into Cosmos. Cosmos writes are upserts keyed by prediction id, so a batch written
 * twice (a timed-out write that landed after all, then its spill) leaves one record.
 */
import { randomUUID } from 'node:crypto';
import { BulkOperationType, type Container, type JSONObject } from '@azure/cosmos';
import type { ContainerClient } from '@azure/storage-blob';
import type { PredictionRecord } from './record';

/** Where records go first. */
export interface AuditSink {
  write(records: readonly PredictionRecord[]): Promise<void>;
  read(id: string): Promise<PredictionRecord | undefined>;
}

/** Durable overflow for records the sink could not take. */
export interface SpillStore {
  put(records: readonly PredictionRecord[]): Promise<string>;
  list(): Promise<string[]>;
  get(name: string): Promise<PredictionRecord[]>;
  remove(name: string): Promise<void>;
}

export interface AuditWriterOptions {
  readonly sink: AuditSink;
  readonly spill: SpillStore;
  /** Records held in memory before the oldest are spilled without trying Cosmos. Default 5,000. */
  readonly maxBuffered?: number;
  /** Records per Cosmos write batch. Default 100. */
  readonly batchSize?: number;
  /** A Cosmos batch slower than this is spilled. Default 2,000 ms. */
  readonly writeTimeoutMs?: number;
  /** After a failed Cosmos write, spill directly for this long. Default 5,000 ms. */
  readonly backoffMs?: number;
  /** Drain interval of the background timer. Default 250 ms. */
  readonly drainIntervalMs?: number;
  /** Replay interval of spilled batches. Default 30,000 ms. */
  readonly replayIntervalMs?: number;
  readonly log?: (level: 'warning' | 'error' | 'information', message: string) => void;
}

export interface AuditWriterStats {
  readonly buffered: number;
  readonly written: number;
  readonly spilled: number;
  readonly replayed: number;
  /** Records that neither Cosmos nor Blob took and that are back in the buffer for another try. */
  readonly retried: number;
}

class TimeoutError extends Error {}

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what} took over ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class AuditWriter {
  readonly #options: AuditWriterOptions;
  #buffer: PredictionRecord[] = [];
  /** The batch being written or spilled right now. */
  #inFlight: readonly PredictionRecord[] = [];
  #draining: Promise<void> | undefined;
  #replaying: Promise<number> | undefined;
  #sinkDownUntil = 0;
  #timers: NodeJS.Timeout[] = [];
  #stats = { written: 0, spilled: 0, replayed: 0, retried: 0 };

  constructor(options: AuditWriterOptions) {
    this.#options = options;
  }

  /** Appends records; never blocks and never throws for I/O reasons. */
  enqueue(records: readonly PredictionRecord[]): void {
    this.#buffer.push(...records);
    const max = this.#options.maxBuffered ?? 5000;
    if (this.#buffer.length > max) this.#kickDrain();
  }

  /** Records not yet handed to Cosmos or Blob: a just-made prediction can be read back before it lands. */
  pending(id: string): PredictionRecord | undefined {
    return (
      this.#buffer.find((record) => record.id === id) ?? this.#inFlight.find((record) => record.id === id)
    );
  }

  stats(): AuditWriterStats {
    return { buffered: this.#buffer.length, ...this.#stats };
  }

  /** Starts the background drain and replay timers (unref'd: they never keep a process alive). */
  start(): void {
    if (this.#timers.length > 0) return;
    const drain = setInterval(() => this.#kickDrain(), this.#options.drainIntervalMs ?? 250);
    const replay = setInterval(() => {
      if (Date.now() >= this.#sinkDownUntil)
        void this.replaySpilled().catch((error: unknown) =>
          this.#log('warning', `audit replay failed: ${messageOf(error)}`),
        );
    }, this.#options.replayIntervalMs ?? 30_000);
    drain.unref();
    replay.unref();
    this.#timers = [drain, replay];
  }

  /**
   * Hands every buffered record to Cosmos or Blob. Resolves when the buffer is empty and no batch is in flight,
   * or after three rounds in which neither store took them (they stay buffered for the timer).
   */
  async flush(): Promise<void> {
    for (let round = 0; round < 3; round++) {
      // A running drain may hold the last batch outside the buffer; it is only handed over once it settles.
      if (this.#draining !== undefined) await this.#draining;
      if (this.#buffer.length === 0) return;
      this.#kickDrain();
      await this.#draining;
    }
  }

  /** Stops the timers and flushes. */
  async close(): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
    await this.#draining;
    await this.flush();
  }

  /** Moves spilled batches into Cosmos; returns the number of records moved. */
  replaySpilled(): Promise<number> {
    this.#replaying ??= this.#replay().finally(() => {
      this.#replaying = undefined;
    });
    return this.#replaying;
  }

  #kickDrain(): void {
    this.#draining ??= this.#drain()
      .catch((error: unknown) => this.#log('error', `audit drain failed: ${messageOf(error)}`))
      .finally(() => {
        this.#draining = undefined;
      });
  }

  async #drain(): Promise<void> {
    try {
      await this.#drainBuffer();
    } finally {
      this.#inFlight = [];
    }
  }

  async #drainBuffer(): Promise<void> {
    const batchSize = this.#options.batchSize ?? 100;
    const max = this.#options.maxBuffered ?? 5000;
    while (this.#buffer.length > 0) {
      const batch = this.#buffer.splice(0, batchSize);
      this.#inFlight = batch;
      const useSink = Date.now() >= this.#sinkDownUntil && this.#buffer.length <= max;
      if (useSink) {
        try {
          await withTimeout(
            this.#options.sink.write(batch),
            this.#options.writeTimeoutMs ?? 2000,
            'audit write',
          );
          this.#stats.written += batch.length;
          continue;
        } catch (error: unknown) {
          this.#sinkDownUntil = Date.now() + (this.#options.backoffMs ?? 5000);
          this.#log('warning', `audit sink failed (${messageOf(error)}); spilling ${batch.length} record(s)`);
        }
      }
      try {
        const name = await this.#options.spill.put(batch);
        this.#stats.spilled += batch.length;
        this.#log('information', `audit spilled ${batch.length} record(s) to ${name}`);
      } catch (error: unknown) {
        // Neither store took them: keep them (in order) and try again on the next tick.
        this.#buffer.unshift(...batch);
        this.#stats.retried += batch.length;
        this.#log(
          'error',
          `audit spill failed too (${messageOf(error)}); ${this.#buffer.length} record(s) held`,
        );
        return;
      }
    }
  }

  async #replay(): Promise<number> {
    let moved = 0;
    for (const name of await this.#options.spill.list()) {
      const records = await this.#options.spill.get(name);
      await withTimeout(
        this.#options.sink.write(records),
        (this.#options.writeTimeoutMs ?? 2000) * 5,
        'audit replay',
      );
      await this.#options.spill.remove(name);
      moved += records.length;
      this.#stats.replayed += records.length;
    }
    if (moved > 0) this.#sinkDownUntil = 0;
    return moved;
  }

  #log(level: 'warning' | 'error' | 'information', message: string): void {
    this.#options.log?.(level, message);
  }
}

/** Operations in one Cosmos bulk request: the service's limit per batch. */
export const COSMOS_BULK_OPERATIONS = 100;

/**
 * Cosmos `predictions` container as the sink: one bulk request per 100 records (upserts, so a repeated batch
 * leaves one record per id). One request per record cost a round trip, and against the local emulator, which
 * closes every connection, a TLS handshake, each: at 200 records/s that was a fifth of the serving process's CPU.
 * `items.bulk` rather than `executeBulkOperations`: in @azure/cosmos 4.9 the latter sleeps a whole second
 * before it looks at its results, which would hold the writer's drain for a second per batch. A batch with any
 * failed operation is reported as failed, so the writer spills all of it (the upserts that landed are harmless
 * to write again).
 */
export function cosmosAuditSink(container: Container): AuditSink {
  return {
    write: async (records) => {
      for (let start = 0; start < records.length; start += COSMOS_BULK_OPERATIONS) {
        const chunk = records.slice(start, start + COSMOS_BULK_OPERATIONS);
        const results = await container.items.bulk(
          chunk.map((record) => ({
            operationType: BulkOperationType.Upsert,
            partitionKey: record.id,
            resourceBody: jsonObjectOf(record),
          })),
        );
        const failures = results.filter((result) => result.statusCode >= 400);
        if (failures.length > 0 || results.length !== chunk.length) {
          const statuses = [...new Set(failures.map((result) => result.statusCode))].join(', ');
          throw new Error(
            `${failures.length} of ${chunk.length} audit upserts failed (status ${statuses || 'none'}; ` +
              `${results.length} results)`,
          );
        }
      }
    },
    read: async (id) => {
      try {
        const { resource } = await container.item(id, id).read<PredictionRecord>();
        return resource ?? undefined;
      } catch (error: unknown) {
        if (typeof error === 'object' && error !== null && 'code' in error && error.code === 404)
          return undefined;
        throw error;
      }
    },
  };
}

const SPILL_PREFIX = 'pending/';

/** Blob `audit-spill` as the overflow: one JSON-lines blob per spilled batch, named in time order. */
export function blobSpillStore(container: ContainerClient): SpillStore {
  return {
    put: async (records) => {
      const name = `${SPILL_PREFIX}${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID()}.jsonl`;
      const body = records.map((record) => JSON.stringify(record)).join('\n') + '\n';
      await container.getBlockBlobClient(name).upload(body, Buffer.byteLength(body), {
        blobHTTPHeaders: { blobContentType: 'application/x-ndjson' },
      });
      return name;
    },
    list: async () => {
      const names: string[] = [];
      for await (const blob of container.listBlobsFlat({ prefix: SPILL_PREFIX })) names.push(blob.name);
      return names.sort();
    },
    get: async (name) => {
      const text = (await container.getBlockBlobClient(name).downloadToBuffer()).toString('utf8');
      return text
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as PredictionRecord);
    },
    remove: async (name) => {
      await container.getBlockBlobClient(name).delete();
    },
  };
}

/**
 * A record as the SDK's JSON type: records are plain JSON data by construction (strings, numbers, booleans,
 * arrays, the caller's JSON-parsed context), which the type system cannot see through `unknown` context values.
 */
function jsonObjectOf(record: PredictionRecord): JSONObject {
  return record as unknown as JSONObject;
}
