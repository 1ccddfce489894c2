import { join } from 'node:path';
import { findProjectRoot, loadNomenclature, parseNomenclature } from '../../../../shared/hs/nomenclature';

describe('shipped HS 2022 nomenclature', () => {
  const nomenclature = loadNomenclature();

  it('has the published counts per level', () => {
    expect(nomenclature.counts).toEqual({ 2: 97, 4: 1229, 6: 5613 });
    expect(nomenclature.hs6Codes()).toHaveLength(5613);
  });

  it('describes codes at every level and walks the parent chain', () => {
    expect(nomenclature.describe('39')).toBe('Plastics and articles thereof');
    expect(nomenclature.describe('3924')).toMatch(/^Tableware, kitchenware/);
    expect(nomenclature.parentChain('392410').map((e) => e.code)).toEqual(['392410', '3924', '39']);
    expect(nomenclature.parentChain('392410')[0]!.section).toBe('VII');
    expect(nomenclature.parentChain('392499X')).toEqual([]);
  });

  it('validates at a level and finds heading and chapter', () => {
    expect(nomenclature.isValid('392410', 6)).toBe(true);
    expect(nomenclature.isValid('392410', 4)).toBe(false);
    expect(nomenclature.isValid('3924')).toBe(true);
    // Split by HS 2022 into 3822.11-3822.90.
    expect(nomenclature.isValid('382200')).toBe(false);
    expect(nomenclature.subheadingsOf('3822')).toEqual(['382211', '382212', '382213', '382219', '382290']);
    expect(nomenclature.headingOf('3822000000')).toBe('3822');
    expect(nomenclature.chapterOf('3822000000')).toBe('38');
    // Heading 88.03 was deleted in HS 2022; chapter 77 is reserved.
    expect(nomenclature.headingOf('880310')).toBeUndefined();
    expect(nomenclature.chapterOf('7701')).toBeUndefined();
  });

  it('finds the project root from the source tree (the same walk works from dist/)', () => {
    expect(findProjectRoot(join(__dirname, 'a', 'b'))).toBe(findProjectRoot());
  });
});

describe('parseNomenclature', () => {
  const header = 'section,hscode,description,parent,level\n';

  it('rejects a code whose length does not match its level', () => {
    expect(() => parseNomenclature(`${header}I,01,Animals,TOTAL,2\nI,011,Bad,01,4\n`)).toThrow(
      /bad code '011'/,
    );
  });

  it('rejects a file without the expected columns', () => {
    expect(() => parseNomenclature('code,text\n01,Animals\n')).toThrow(/lacks column 'section'/);
  });

  it('rejects a dangling parent', () => {
    expect(() => parseNomenclature(`${header}I,0101,Horses,01,4\n`)).toThrow(/parent 01/);
  });
});
