import type { PredictionRecord } from '../../../../shared/audit/record';
import type { Container } from '@azure/cosmos';
import {
  AuditWriter,
  cosmosAuditSink,
  type AuditSink,
  type SpillStore,
} from '../../../../shared/audit/writer';

function record(id: string): PredictionRecord {
  return { id } as unknown as PredictionRecord;
}

/** A sink whose behaviour the test switches: up, down (rejects) or hanging (never settles). */
function fakeSink(): AuditSink & { mode: 'up' | 'down' | 'hang'; stored: Map<string, PredictionRecord> } {
  const sink = {
    mode: 'up' as 'up' | 'down' | 'hang',
    stored: new Map<string, PredictionRecord>(),
    write: async (records: readonly PredictionRecord[]) => {
      if (sink.mode === 'down') throw new Error('connect ECONNREFUSED');
      if (sink.mode === 'hang') return new Promise<void>(() => undefined);
      for (const r of records) sink.stored.set(r.id, r);
    },
    read: async (id: string) => sink.stored.get(id),
  };
  return sink;
}

function fakeSpill(): SpillStore & { failing: boolean; blobs: Map<string, PredictionRecord[]> } {
  let counter = 0;
  const spill = {
    failing: false,
    blobs: new Map<string, PredictionRecord[]>(),
    put: async (records: readonly PredictionRecord[]) => {
      if (spill.failing) throw new Error('blob down too');
      const name = `pending/${String(counter++).padStart(6, '0')}`;
      spill.blobs.set(name, [...records]);
      return name;
    },
    list: async () => [...spill.blobs.keys()].sort(),
    get: async (name: string) => spill.blobs.get(name) ?? [],
    remove: async (name: string) => {
      spill.blobs.delete(name);
    },
  };
  return spill;
}

const ids = (n: number, prefix = 'r') => Array.from({ length: n }, (_, i) => record(`${prefix}${i}`));

describe('AuditWriter', () => {
  it('writes to the sink in batches, and enqueue returns at once', async () => {
    const sink = fakeSink();
    const writer = new AuditWriter({ sink, spill: fakeSpill(), batchSize: 7 });
    const started = performance.now();
    writer.enqueue(ids(50));
    expect(performance.now() - started).toBeLessThan(5);
    expect(writer.pending('r3')).toBeDefined();
    await writer.flush();
    expect(sink.stored.size).toBe(50);
    expect(writer.stats()).toMatchObject({ buffered: 0, written: 50, spilled: 0 });
  });

  it('spills when the sink is down or slow, backs off, and replays later without loss or duplicates', async () => {
    const sink = fakeSink();
    const spill = fakeSpill();
    const writer = new AuditWriter({ sink, spill, batchSize: 10, writeTimeoutMs: 50, backoffMs: 60_000 });
    sink.mode = 'hang';
    writer.enqueue(ids(10, 'a'));
    await writer.flush();
    sink.mode = 'down';
    writer.enqueue(ids(25, 'b'));
    const started = performance.now();
    await writer.flush();
    // In back-off, nothing waits on the sink: later batches go straight to Blob.
    expect(performance.now() - started).toBeLessThan(40);
    expect(writer.stats()).toMatchObject({ buffered: 0, written: 0, spilled: 35 });
    expect(spill.blobs.size).toBe(4);

    sink.mode = 'up';
    expect(await writer.replaySpilled()).toBe(35);
    expect(spill.blobs.size).toBe(0);
    expect(sink.stored.size).toBe(35);
    // Back-off ends with a successful replay: new records go to the sink again.
    writer.enqueue(ids(3, 'c'));
    await writer.flush();
    expect(writer.stats()).toMatchObject({ written: 3, replayed: 35 });
  });

  it('keeps records in memory when Blob fails too, and hands them over when it recovers', async () => {
    const sink = fakeSink();
    const spill = fakeSpill();
    const writer = new AuditWriter({ sink, spill, batchSize: 5, backoffMs: 0 });
    sink.mode = 'down';
    spill.failing = true;
    writer.enqueue(ids(12));
    await writer.flush();
    expect(writer.stats().buffered).toBe(12);
    expect(writer.pending('r11')).toBeDefined();
    spill.failing = false;
    await writer.flush();
    expect(writer.stats()).toMatchObject({ buffered: 0, spilled: 12 });
    expect([...spill.blobs.values()].flat().map((r) => r.id)).toEqual(ids(12).map((r) => r.id));
  });

  it('spills the oldest without trying the sink once the buffer passes its bound', async () => {
    const sink = fakeSink();
    const spill = fakeSpill();
    const writer = new AuditWriter({ sink, spill, batchSize: 10, maxBuffered: 20 });
    writer.enqueue(ids(45));
    await writer.flush();
    expect(writer.stats().spilled).toBeGreaterThan(0);
    expect(writer.stats().written + writer.stats().spilled).toBe(45);
  });
});

/** A Cosmos container stand-in that answers bulk requests with the statuses the test chooses. */
function fakeBulkContainer(statusOf: (id: string) => number) {
  const requests: { operationType: string; partitionKey: unknown; id: string }[][] = [];
  const container = {
    items: {
      bulk: async (
        operations: { operationType: string; partitionKey: unknown; resourceBody: { id: string } }[],
      ) => {
        requests.push(
          operations.map((operation) => ({
            operationType: operation.operationType,
            partitionKey: operation.partitionKey,
            id: operation.resourceBody.id,
          })),
        );
        return operations.map((operation) => ({ statusCode: statusOf(operation.resourceBody.id) }));
      },
    },
  };
  return { container: container as unknown as Container, requests };
}

describe('cosmosAuditSink', () => {
  it('upserts records in bulk requests of at most 100, keyed by prediction id', async () => {
    const { container, requests } = fakeBulkContainer(() => 200);
    await cosmosAuditSink(container).write(ids(250));
    expect(requests.map((request) => request.length)).toEqual([100, 100, 50]);
    expect(requests.flat().map((operation) => operation.id)).toEqual(ids(250).map((r) => r.id));
    expect(requests.flat().every((op) => op.operationType === 'Upsert' && op.partitionKey === op.id)).toBe(
      true,
    );
  });

  it('fails the write when any upsert of a bulk request fails, so the writer spills the batch', async () => {
    const { container } = fakeBulkContainer((id) => (id === 'r7' ? 429 : 201));
    await expect(cosmosAuditSink(container).write(ids(10))).rejects.toThrow(
      /1 of 10 audit upserts failed \(status 429/,
    );
  });

  it('loses nothing when some upserts of a batch are throttled: the batch goes to the spill', async () => {
    const { container } = fakeBulkContainer((id) => (id === 'r3' ? 429 : 200));
    const spill = fakeSpill();
    const writer = new AuditWriter({ sink: cosmosAuditSink(container), spill, batchSize: 100 });
    writer.enqueue(ids(8));
    await writer.flush();
    expect(writer.stats()).toMatchObject({ buffered: 0, written: 0, spilled: 8 });
    expect([...spill.blobs.values()].flat().map((r) => r.id)).toEqual(ids(8).map((r) => r.id));
  });
});
