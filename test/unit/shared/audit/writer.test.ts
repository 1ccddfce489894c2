import type { PredictionRecord } from '../../../../shared/audit/record';
import { AuditWriter, type AuditSink, type SpillStore } from '../../../../shared/audit/writer';

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
