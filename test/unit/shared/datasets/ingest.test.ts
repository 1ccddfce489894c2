import fc from 'fast-check';
import { ingestUpload, DATASET_COLUMNS, type IngestSummary } from '../../../../shared/datasets/ingest';
import { readCsvRecords } from '../../../../shared/datasets/csv';
import { loadNomenclature } from '../../../../shared/hs/nomenclature';
import type { RejectedRow } from '../../../../shared/datasets/types';

const nomenclature = loadNomenclature();
const rules = { maxDescriptionLength: 40, labels: {} };

interface Outcome {
  summary: IngestSummary;
  accepted: string[];
  rejected: RejectedRow[];
}

async function ingest(
  chunks: readonly (string | Buffer)[],
  format: 'csv' | 'jsonl' = 'csv',
): Promise<Outcome> {
  const accepted: string[] = [];
  const rejectedLines: string[] = [];
  const summary = await ingestUpload(
    {
      open: () =>
        (async function* () {
          yield* chunks;
        })(),
      format,
      nomenclature,
      rules,
    },
    { accepted: (line) => void accepted.push(line), rejected: (line) => void rejectedLines.push(line) },
  );
  return { summary, accepted, rejected: rejectedLines.map((line) => JSON.parse(line) as RejectedRow) };
}

describe('ingestUpload', () => {
  it('sorts every row into accepted or rejected, with row numbers and reasons', async () => {
    const csv = [
      'description,hs_code,date,origin',
      'LAPTOP 15 INCH,8471.30.00 00,2024-03-01,CN', // 1 accepted
      '  ,8471300000,,', // 2 empty
      `${'X'.repeat(41)},8471300000,,`, // 3 too long
      'WIDGET,84713A,,', // 4 format
      'OLD STUFF,8803100000,,', // 5 heading not in HS 2022
      'NOWHERE,7700000000,,', // 6 chapter 77 does not exist
      'laptop  15 inch,847130,,', // 7 duplicate of 1 (same normalised text, same HS6)
      'SHOE,6403990000,,', // 8 conflicts with 9
      'shoe,6402990000,,', // 9
      'PLATE,3924100000,31/02/2024,', // 10 date
      '"BROKEN"x,1,,', // 11 malformed
      'TOO,MANY,FIELDS,HERE,NOW', // 12
      'GLASS SHADE,9405400000,,', // 13 unlisted HS6 kept under the 'keep' policy
    ].join('\n');
    const { summary, accepted, rejected } = await ingest([csv]);
    expect(summary).toMatchObject({ received: 13, accepted: 2, rejected: 11 });
    expect(rejected.map((r) => [r.row, r.reason])).toEqual([
      [2, 'empty-description'],
      [3, 'description-too-long'],
      [4, 'invalid-hs-code-format'],
      [5, 'hs-code-not-in-nomenclature'],
      [6, 'hs-code-not-in-nomenclature'],
      [7, 'duplicate'],
      [8, 'conflicting-codes'],
      [9, 'conflicting-codes'],
      [10, 'invalid-date'],
      [11, 'text-after-closing-quote'],
      [12, 'wrong-field-count'],
    ]);
    expect(rejected[5]).toMatchObject({ line: 8, detail: 'same description and code as row 1' });
    expect(rejected[1]!.detail).toBe('41 characters, the limit is 40');
    expect(accepted[0]).toBe(`${DATASET_COLUMNS.join(',')}\n`);
    expect(accepted.slice(1)).toEqual([
      'LAPTOP 15 INCH,8471300000,847130,listed,,2024-03-01,CN\n',
      'GLASS SHADE,9405400000,940540,unlisted,,,\n',
    ]);
    expect(summary.classDistribution).toEqual({ '847130': 1, '940540': 1 });
    expect(summary.statusCounts).toEqual({ listed: 1, mapped: 0, unlisted: 1 });
    expect(summary.rejectedByReason).toMatchObject({
      'conflicting-codes': 2,
      'hs-code-not-in-nomenclature': 2,
    });
    expect(summary.version).toMatch(/^ds-[0-9a-f]{20}$/);
  });

  it('gives the same version for the same accepted rows, and another when one row differs', async () => {
    const base = 'description,hs_code\nA,8471300000\nB,6403990000\n';
    const a = await ingest([base]);
    const b = await ingest(['description,hs_code,origin\nA,8471.30.0000,\n', 'bad,1,\nB,6403990000,\n']);
    // Both accept the same rows: the second file's extra column is empty and its bad row is dropped.
    expect(a.accepted).toEqual(b.accepted);
    expect(b.summary.version).toBe(a.summary.version);
    const c = await ingest(['description,hs_code\nA,8471300000\nB,6403991000\n']);
    expect(c.summary.version).not.toBe(a.summary.version);
  });

  it('writes nothing and reports no version when every row is rejected', async () => {
    const { summary, accepted } = await ingest(['description,hs_code\n,1\n']);
    expect(summary).toMatchObject({ received: 1, accepted: 0, rejected: 1, version: undefined });
    expect(accepted).toEqual([]);
  });

  it('reads JSON Lines the same way', async () => {
    const { summary, rejected } = await ingest(
      [
        '{"description":"LAPTOP","hs_code":"8471300000"}\n{"description":"LAPTOP","hs_code":"8471300000"}\nnot json\n',
      ],
      'jsonl',
    );
    expect(summary).toMatchObject({ received: 3, accepted: 1, rejected: 2 });
    expect(rejected.map((r) => [r.row, r.reason])).toEqual([
      [2, 'duplicate'],
      [3, 'invalid-json'],
    ]);
  });
});

// Messy files from pieces that a generator can count: every piece is one record, whatever the chunking.
const goodCodes = ['8471300000', '6403990000', '3924100000', '0101210000', '9405400000', '85.04.40'];
const words = ['BOLT', 'SHOE', 'lap top', 'CAFÉ', 'Glass', '3/4" PIPE', 'ÜBER', 'x', '  padded  '];
const record = fc.oneof(
  fc
    .record({ d: fc.constantFrom(...words), w: fc.constantFrom(...words), c: fc.constantFrom(...goodCodes) })
    .map(({ d, w, c }) => `${d} ${w},${c}`),
  fc
    .record({
      d: fc.constantFrom(...words),
      c: fc.constantFrom('', 'abc', '123', '77000000', '8803100000', '8471;6403'),
    })
    .map(({ d, c }) => `${d},${c}`),
  fc.constantFrom(',8471300000', '"quoted, ok",8471300000', '"q""x",6403990000', '"bad"x,1', 'a,b,c', 'only'),
  fc.constantFrom('"multi\nline",8471300000', `${'Y'.repeat(60)},8471300000`),
);

describe('ingestUpload on generated messy files', () => {
  it('always accepts + rejects exactly what it received, in row order, whatever the chunking', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(record, { minLength: 0, maxLength: 60 }),
        fc.array(fc.constantFrom('\n', '\r\n', '\n\n'), { minLength: 60, maxLength: 60 }),
        fc.boolean(),
        fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 20 }),
        async (records, breaks, unterminated, cuts) => {
          let text = 'description,hs_code\n';
          records.forEach((r, i) => (text += r + breaks[i]!));
          let expectedRows = records.length;
          if (unterminated) {
            text += '"never closed,8471300000\nmore,6403990000\n';
            expectedRows++;
          }
          const bytes = Buffer.from(text);
          const chunks: Buffer[] = [];
          for (let at = 0, i = 0; at < bytes.length; i++) {
            const size = cuts[i % cuts.length]!;
            chunks.push(bytes.subarray(at, at + size));
            at += size;
          }
          const whole = await ingest([bytes]);
          const split = await ingest(chunks);
          const { summary, accepted, rejected } = split;
          expect(summary.received).toBe(expectedRows);
          expect(summary.accepted + summary.rejected).toBe(summary.received);
          expect(rejected).toHaveLength(summary.rejected);
          expect(accepted.length).toBe(summary.accepted === 0 ? 0 : summary.accepted + 1);
          const rows = rejected.map((r) => r.row);
          expect(rows).toEqual([...new Set(rows)].sort((a, b) => a - b));
          expect(rows.every((row) => row >= 1 && row <= summary.received)).toBe(true);
          expect(Object.values(summary.rejectedByReason).reduce((a, b) => a + b, 0)).toBe(summary.rejected);
          expect(Object.values(summary.classDistribution).reduce((a, b) => a + b, 0)).toBe(summary.accepted);
          // The accepted file parses back to exactly the accepted rows with the dataset's columns.
          const back: string[][] = [];
          for await (const rec of readCsvRecords(
            (async function* () {
              yield accepted.join('');
            })(),
          ))
            if ('fields' in rec) back.push(rec.fields);
          expect(back.length).toBe(accepted.length);
          expect(back.every((fields) => fields.length === DATASET_COLUMNS.length)).toBe(true);
          expect(split).toEqual(whole);
        },
      ),
      { numRuns: 150, seed: 20240601 },
    );
  });
});
