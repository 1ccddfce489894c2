import { loadNomenclature, parseNomenclature } from '../../../../shared/hs/nomenclature';
import { describeLabel, normaliseCode, toCellLabels, toLabel } from '../../../../shared/hs/labels';

const nomenclature = loadNomenclature();

describe('normaliseCode', () => {
  it('strips spaces and dots and refuses anything else', () => {
    expect(normaliseCode(' 3924.10.00 00 ')).toBe('3924100000');
    expect(normaliseCode('3924-10')).toBeUndefined();
    expect(normaliseCode('39241O')).toBeUndefined();
  });
});

describe('toLabel', () => {
  it('labels listed codes at HS6 by default and at 4, 8 and 10 digits on request', () => {
    expect(toLabel('3924.10.00.00', nomenclature)).toEqual({
      ok: true,
      label: '392410',
      status: 'listed',
      code: '3924100000',
    });
    expect(toLabel('3924100000', nomenclature, { level: 4 })).toMatchObject({ ok: true, label: '3924' });
    expect(toLabel('3924100000', nomenclature, { level: 8 })).toMatchObject({ ok: true, label: '39241000' });
    expect(toLabel('3924100000', nomenclature, { level: 10 })).toMatchObject({
      ok: true,
      label: '3924100000',
    });
  });

  it('rejects malformed codes with a reason', () => {
    expect(toLabel('  ', nomenclature)).toMatchObject({ ok: false, reason: 'empty' });
    expect(toLabel('39A410', nomenclature)).toMatchObject({ ok: false, reason: 'non-numeric' });
    // A spreadsheet dropped the leading zero of 0101210000.
    expect(toLabel('101210000', nomenclature)).toMatchObject({ ok: false, reason: 'odd-length' });
    expect(toLabel('3924', nomenclature)).toMatchObject({ ok: false, reason: 'too-short' });
    expect(toLabel('39241000', nomenclature, { level: 10 })).toMatchObject({
      ok: false,
      reason: 'too-short',
    });
    expect(toLabel('7701000000', nomenclature)).toMatchObject({ ok: false, reason: 'unknown-chapter' });
  });

  it('validates national extensions on their HS6 prefix only', () => {
    expect(toLabel('3924109999', nomenclature, { level: 10 })).toMatchObject({ ok: true, status: 'listed' });
    expect(toLabel('3924550000', nomenclature, { level: 8 })).toMatchObject({
      ok: true,
      label: '39245500',
      status: 'unlisted',
    });
  });

  describe('codes HS 2022 does not list', () => {
    it("'keep' (default) keeps a pre-2022 code under a listed heading as an unlisted label", () => {
      expect(toLabel('3822000000', nomenclature)).toEqual({
        ok: true,
        label: '382200',
        status: 'unlisted',
        code: '3822000000',
      });
    });

    it('maps a code whose heading has a single HS 2022 subheading, at HS6 only', () => {
      expect(toLabel('8548900000', nomenclature)).toMatchObject({
        ok: true,
        label: '854800',
        status: 'mapped',
      });
      expect(toLabel('8548900000', nomenclature, { unlistedPolicy: 'map-or-reject' })).toMatchObject({
        label: '854800',
        status: 'mapped',
      });
      expect(toLabel('8548900000', nomenclature, { level: 10 })).toMatchObject({
        label: '8548900000',
        status: 'unlisted',
      });
    });

    it('rejects a code under a heading HS 2022 deleted, whatever the policy', () => {
      expect(toLabel('8803100000', nomenclature)).toMatchObject({ ok: false, reason: 'unknown-heading' });
    });

    it("'map-or-reject' and 'reject' refuse what cannot be mapped", () => {
      expect(toLabel('3822000000', nomenclature, { unlistedPolicy: 'map-or-reject' })).toMatchObject({
        ok: false,
        reason: 'unlisted-code',
      });
      expect(toLabel('8548900000', nomenclature, { unlistedPolicy: 'reject' })).toMatchObject({
        ok: false,
        reason: 'unlisted-code',
      });
    });

    it('at level 4 keeps or rejects an unlisted heading of a listed chapter', () => {
      expect(toLabel('8803100000', nomenclature, { level: 4 })).toMatchObject({
        ok: true,
        label: '8803',
        status: 'unlisted',
      });
      expect(toLabel('8803100000', nomenclature, { level: 4, unlistedPolicy: 'reject' })).toMatchObject({
        ok: false,
        reason: 'unknown-heading',
      });
    });
  });

  it('works with any nomenclature (no hidden dependence on the shipped file)', () => {
    const tiny = parseNomenclature(
      'section,hscode,description,parent,level\nI,01,Animals,TOTAL,2\nI,0101,Horses,01,4\nI,010121,Breeding,0101,6\n',
    );
    expect(toLabel('0101290000', tiny)).toMatchObject({ ok: true, label: '010121', status: 'mapped' });
  });
});

describe('toCellLabels', () => {
  it('splits multi-code cells like the peers and picks the smallest accepted label for training', () => {
    const cell = toCellLabels('9403600000; 3924100000;9403609000;bad', nomenclature);
    expect(cell.labels).toEqual(['392410', '940360']);
    expect(cell.results.map((r) => r.ok)).toEqual([true, true, true, false]);
  });
});

describe('describeLabel', () => {
  it('describes listed labels and marks unlisted ones', () => {
    expect(describeLabel('39241000', nomenclature)).toBe(nomenclature.describe('392410'));
    expect(describeLabel('3924', nomenclature)).toBe(nomenclature.describe('3924'));
    expect(describeLabel('382200', nomenclature)).toMatch(
      /^Reagents; diagnostic.*\(code 382200 is not listed in HS 2022\)$/,
    );
    expect(describeLabel('880310', nomenclature)).toMatch(/^Aircraft.*not listed/);
    expect(describeLabel('770100', nomenclature)).toBeUndefined();
  });
});
