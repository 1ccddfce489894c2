import { readCsvRecords, csvLine, type CsvRecord } from '../../../../shared/datasets/csv';
import { readSourceRows } from '../../../../shared/datasets/rows';
import { UnparseableFileError, type SourceRow } from '../../../../shared/datasets/types';

async function records(text: string | string[], maxRecordChars?: number): Promise<CsvRecord[]> {
  const chunks = typeof text === 'string' ? [text] : text;
  const out: CsvRecord[] = [];
  for await (const record of readCsvRecords(
    (async function* () {
      yield* chunks;
    })(),
    { maxRecordChars },
  ))
    out.push(record);
  return out;
}

async function rowsOf(bytes: string | Buffer, format: 'csv' | 'jsonl'): Promise<SourceRow[]> {
  const out: SourceRow[] = [];
  const source = (async function* () {
    yield typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
  })();
  for await (const row of readSourceRows(source, format)) out.push(row);
  return out;
}

describe('readCsvRecords', () => {
  it('reads quoted fields with commas, doubled quotes and line breaks, and numbers records by their first line', async () => {
    const got = await records('a,b\r\n"x, y","say ""hi"""\n\n"multi\nline",2\nlast,row');
    expect(got).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['x, y', 'say "hi"'] },
      { line: 4, fields: ['multi\nline', '2'] },
      { line: 6, fields: ['last', 'row'] },
    ]);
  });

  it('keeps a quote inside an unquoted field (inch marks) and ignores spaces after a closing quote', async () => {
    expect(await records('3/4" PIPE,7307\n"A" ,B\n')).toEqual([
      { line: 1, fields: ['3/4" PIPE', '7307'] },
      { line: 2, fields: ['A', 'B'] },
    ]);
  });

  it('reports text after a closing quote as a bad record and resumes at the next line', async () => {
    const got = await records('"ab"cd,1\nok,2\n');
    expect(got[0]).toMatchObject({ line: 1, problem: 'text-after-closing-quote', raw: '"ab"cd,1\n' });
    expect(got[1]).toEqual({ line: 2, fields: ['ok', '2'] });
  });

  it('reports a quote left open at the end of the file as one bad record', async () => {
    const got = await records('ok,1\n"open,2\nmore,3\n');
    expect(got).toHaveLength(2);
    expect(got[1]).toMatchObject({ line: 2, problem: 'unterminated-quote' });
  });

  it('caps a record at maxRecordChars and resumes after the next line break', async () => {
    const got = await records(['"', 'x'.repeat(50), '\nstill quoted\n', 'after,1\n'], 40);
    expect(got[0]).toMatchObject({ line: 1, problem: 'record-too-long' });
    // Resynchronised at the first line break after the cap, outside any quote.
    expect(got.slice(1)).toEqual([
      { line: 2, fields: ['still quoted'] },
      { line: 3, fields: ['after', '1'] },
    ]);
  });

  it('gives the same records whatever the chunking (quotes and CRLF split across chunks)', async () => {
    const text = 'a,b\r\n"q""x",1\r\n"y\r\nz",2\r\n';
    const whole = await records(text);
    const split = await records(text.split(''));
    expect(split).toEqual(whole);
    expect(whole[1]).toEqual({ line: 2, fields: ['q"x', '1'] });
    expect(whole[2]).toEqual({ line: 3, fields: ['y\r\nz', '2'] });
  });

  it('round-trips what csvLine writes', async () => {
    const values = ['plain', ' padded ', 'com,ma', 'quo"te', 'line\nbreak', '"start'];
    expect(await records(csvLine(values))).toEqual([{ line: 1, fields: values }]);
  });
});

describe('readSourceRows', () => {
  it('maps CSV columns case-insensitively, numbers rows after the header, and flags a wrong field count', async () => {
    const got = await rowsOf(
      '\uFEFFHS_Code,Description,Origin\n8471300000,LAPTOP,CN\n1,2,3,4\n\n6403990000,SHOES,\n',
      'csv',
    );
    expect(got).toEqual([
      { row: 1, line: 2, fields: { description: 'LAPTOP', hs_code: '8471300000', origin: 'CN' } },
      expect.objectContaining({ row: 2, line: 3, problem: 'wrong-field-count' }),
      { row: 3, line: 5, fields: { description: 'SHOES', hs_code: '6403990000' } },
    ]);
  });

  it('reads JSON Lines, numbering non-blank lines, with bad lines as bad rows', async () => {
    const got = await rowsOf(
      '{"description":"LAPTOP","hs_code":"8471300000","date":"2024-01-02"}\n\n{oops\n[1]\n{"description":"X"}\n{"description":5,"hs_code":"1"}\n{"description":"N","hs_code":8471300000}\n',
      'jsonl',
    );
    expect(got.map((row) => ('problem' in row ? row.problem : 'ok'))).toEqual([
      'ok',
      'invalid-json',
      'not-an-object',
      'missing-field',
      'bad-field-type',
      'ok',
    ]);
    expect(got.map((row) => [row.row, row.line])).toEqual([
      [1, 1],
      [2, 3],
      [3, 4],
      [4, 5],
      [5, 6],
      [6, 7],
    ]);
    expect(got[5]).toMatchObject({ fields: { description: 'N', hs_code: '8471300000' } });
  });

  it.each([
    ['an empty CSV', '', 'csv', /empty file/],
    [
      'a CSV without the required columns',
      'text,code\na,1\n',
      'csv',
      /lacks column\(s\) description, hs_code/,
    ],
    ['a CSV naming a column twice', 'description,hs_code,description\n', 'csv', /twice/],
    [
      'a JSON Lines file without any object',
      'description,hs_code\nA,1\n',
      'jsonl',
      /none of the 2 non-blank/,
    ],
    ['binary content', 'description,hs_code\nA\u0000B,1\n', 'csv', /NUL character on line 2/],
  ])('refuses %s as a whole', async (_what, text, format, reason) => {
    await expect(rowsOf(text, format as 'csv' | 'jsonl')).rejects.toThrow(reason);
    await expect(rowsOf(text, format as 'csv' | 'jsonl')).rejects.toBeInstanceOf(UnparseableFileError);
  });

  it('refuses bytes that are not UTF-8 (a gzip header)', async () => {
    const gzip = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0xff, 0xfe, 0x00]);
    await expect(rowsOf(gzip, 'csv')).rejects.toThrow(/not UTF-8/);
  });

  it('decodes a multi-byte character split across chunks', async () => {
    const bytes = Buffer.from('description,hs_code\nCAFÉ ÜBER,0901210000\n');
    const cut = bytes.indexOf(Buffer.from('É')) + 1;
    const out: SourceRow[] = [];
    const source = (async function* () {
      yield bytes.subarray(0, cut);
      yield bytes.subarray(cut);
    })();
    for await (const row of readSourceRows(source, 'csv')) out.push(row);
    expect(out).toEqual([{ row: 1, line: 2, fields: { description: 'CAFÉ ÜBER', hs_code: '0901210000' } }]);
  });
});
