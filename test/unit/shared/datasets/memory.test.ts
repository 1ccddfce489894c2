/**
 * The ingestion core on a generated upload far larger than what it may keep: the file comes as a lazily
 * generated stream (never a Buffer of the whole), and the heap retained while it runs must stay a small fraction
 * of the file.
 */
import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ingestUpload } from '../../../../shared/datasets/ingest';
import { loadNomenclature } from '../../../../shared/hs/nomenclature';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

const ROWS = 200_000;
const CODES = ['8471300000', '6403990000', '3924100000', '0101210000', '8504400000', '6203420000'];

/** A seeded CSV upload of ~`ROWS` rows with ~200-character descriptions, generated 1,000 rows per chunk. */
function generatedUpload(): { stream: () => Readable; bytes: () => number } {
  let produced = 0;
  const stream = (): Readable => {
    produced = 0;
    return Readable.from(
      (function* () {
        yield 'description,hs_code,id\n';
        for (let start = 0; start < ROWS; start += 1000) {
          let chunk = '';
          for (let row = start; row < start + 1000; row++) {
            // Every 10th row repeats an earlier description (a duplicate), the rest are distinct.
            const key = row % 10 === 9 ? row - 9 : row;
            const text = `PART ${key} ${'STAINLESS STEEL FASTENER ASSEMBLY '.repeat(7)}`;
            chunk += `${text},${CODES[key % CODES.length]},${row}\n`;
          }
          produced += Buffer.byteLength(chunk);
          yield Buffer.from(chunk);
        }
      })(),
      { objectMode: false },
    );
  };
  return { stream, bytes: () => produced };
}

describe('ingestion memory', () => {
  it('keeps retained heap far below the size of a large streamed upload', async () => {
    const upload = generatedUpload();
    // Typed arrays (the description index) live outside the JS heap: count both.
    const retained = (): number => {
      collectGarbage();
      const usage = process.memoryUsage();
      return usage.heapUsed + usage.arrayBuffers;
    };
    const baseline = retained();
    // Retained memory can fall below the baseline (garbage of earlier tests in this worker), so start below zero.
    let peak = -Infinity;
    let samples = 0;
    let lines = 0;
    const sample = (): void => {
      if (++lines % 25_000 !== 0) return;
      samples++;
      peak = Math.max(peak, retained() - baseline);
    };
    let acceptedBytes = 0;
    const summary = await ingestUpload(
      {
        open: () => upload.stream(),
        format: 'csv',
        nomenclature: loadNomenclature(),
        rules: { maxDescriptionLength: 512, labels: {} },
      },
      {
        accepted: (line) => {
          acceptedBytes += line.length;
          sample();
        },
        rejected: sample,
      },
    );
    const fileBytes = upload.bytes();
    expect(fileBytes).toBeGreaterThan(50e6);
    expect(summary).toMatchObject({ received: ROWS, accepted: ROWS * 0.9, rejected: ROWS * 0.1 });
    expect(summary.rejectedByReason).toEqual({ duplicate: ROWS * 0.1 });
    expect(acceptedBytes).toBeGreaterThan(fileBytes * 0.8);
    // What it keeps: the description index (16 bytes a slot) and one record; the file is ~60 MB.
    expect(summary.indexBytes).toBeLessThanOrEqual(16 * 2 ** 19);
    expect(samples).toBe(ROWS / 25_000);
    // Holding the upload would retain more than the whole file; the bound leaves room for what else the test
    // worker allocates meanwhile (measured 13–21 MB on a loaded 2-core machine).
    expect(peak).toBeLessThan(fileBytes / 2);
    process.stdout.write(
      `memory: file ${(fileBytes / 1e6).toFixed(1)} MB, retained peak (heap + array buffers) ${(peak / 1e6).toFixed(1)} MB, index ${(summary.indexBytes / 1e6).toFixed(1)} MB\n`,
    );
  }, 120_000);
});
