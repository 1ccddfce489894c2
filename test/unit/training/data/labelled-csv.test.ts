import { Readable } from 'node:stream';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadNomenclature } from '../../../../shared/hs/nomenclature';
import { parseLabelledCsv, readLabelledCsv } from '../../../../training/data/labelled-csv';

const nomenclature = loadNomenclature();

const csv = [
  'description,hs_code',
  'plastic cups,3924100000',
  '"chair, wooden",9403600000',
  'diagnostic reagent kit,3822000000',
  ',3924100000',
  'propeller,8803100000',
  'unquoted, comma,3924100000',
  'tray,39241000;9403600000',
  'nonsense,ABC',
  '',
].join('\n');

describe('readLabelledCsv', () => {
  it('reads texts, sorted label set, label indices and rejected rows with reasons', async () => {
    const data = await parseLabelledCsv(csv, nomenclature);
    expect(data.texts).toEqual(['plastic cups', 'chair, wooden', 'diagnostic reagent kit', 'tray']);
    expect(data.labelSet).toEqual(['382200', '392410', '940360']);
    expect([...data.labels]).toEqual([1, 2, 0, 1]);
    expect([...data.alternatives.get(3)!]).toEqual([1, 2]);
    expect(data.statusCounts).toEqual({ listed: 3, mapped: 0, unlisted: 1 });
    expect(data.rejected).toEqual([
      { row: 4, reason: 'empty-description', value: '3924100000' },
      { row: 5, reason: 'unknown-heading', value: '8803100000' },
      { row: 6, reason: 'malformed-row', value: 'unquoted, comma,3924100000' },
      { row: 8, reason: 'non-numeric', value: 'ABC' },
    ]);
  });

  it('indexes against a fixed label set and appends unseen labels after it', async () => {
    const data = await parseLabelledCsv(csv, nomenclature, { labelSet: ['940360', '392410'] });
    expect(data.labelSet).toEqual(['940360', '392410', '382200']);
    expect([...data.labels]).toEqual([1, 0, 2, 1]);
  });

  it('or rejects rows whose labels the fixed set lacks', async () => {
    const data = await parseLabelledCsv(csv, nomenclature, { labelSet: ['392410'], unseenLabels: 'reject' });
    expect(data.texts).toEqual(['plastic cups', 'tray']);
    expect(data.labelSet).toEqual(['392410']);
    expect(data.rejected.filter((r) => r.reason === 'label-not-in-label-set').map((r) => r.row)).toEqual([
      2, 3,
    ]);
  });

  it('applies the label options', async () => {
    const data = await parseLabelledCsv(csv, nomenclature, { labels: { unlistedPolicy: 'reject' } });
    expect(data.labelSet).toEqual(['392410', '940360']);
    expect(data.rejected.map((r) => r.reason)).toContain('unlisted-code');
  });

  it('streams from a file and from a stream of many small chunks', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'labelled-csv-'));
    try {
      const path = join(dir, 'data.csv');
      writeFileSync(path, '\uFEFF' + csv);
      const fromFile = await readLabelledCsv(path, nomenclature);
      const chunks = csv.match(/.{1,7}/gs)!;
      const fromStream = await readLabelledCsv(Readable.from(chunks), nomenclature);
      expect(fromFile.texts).toEqual(fromStream.texts);
      expect([...fromFile.labels]).toEqual([...fromStream.labels]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails on a missing file instead of hanging', async () => {
    await expect(
      readLabelledCsv(join(tmpdir(), 'no-such-dir-hs', 'missing.csv'), nomenclature),
    ).rejects.toThrow(/ENOENT/);
  });

  it('fails loudly without the expected columns', async () => {
    await expect(parseLabelledCsv('text,code\na,3924100000\n', nomenclature)).rejects.toThrow(
      /description and hs_code/,
    );
  });
});
