import { parseArguments } from '../../../../training/cli/train';

describe('npm run train arguments', () => {
  it('reads every option with its defaults', () => {
    expect(parseArguments(['--data', 'a.csv', '--out', 'dir'])).toEqual({
      data: 'a.csv',
      test: undefined,
      out: 'dir',
      arch: 'textcnn',
      tune: 0,
      seed: 1,
      epochs: undefined,
      balance: undefined,
      buckets: undefined,
      testFraction: undefined,
      validationFraction: undefined,
      refit: undefined,
    });
    expect(parseArguments(['--data', 'a', '--out', 'd', '--refit', 'off'])).toMatchObject({ refit: false });
    expect(parseArguments(['--data', 'a', '--out', 'd', '--refit', 'on'])).toMatchObject({ refit: true });
    expect(
      parseArguments([
        '--data',
        'a.csv',
        '--arch',
        'gru',
        '--out',
        'd',
        '--tune',
        '4',
        '--seed',
        '7',
        '--epochs',
        '2',
      ]),
    ).toMatchObject({ arch: 'gru', tune: 4, seed: 7, epochs: 2 });
    expect(
      parseArguments([
        '--data',
        'a',
        '--out',
        'd',
        '--test-fraction',
        '0.05',
        '--validation-fraction',
        '0.1',
      ]),
    ).toMatchObject({ testFraction: 0.05, validationFraction: 0.1 });
    expect(parseArguments(['--data', 'a', '--out', 'd', '--test', 't.csv'])).toMatchObject({
      test: 't.csv',
      testFraction: undefined,
    });
    expect(() => parseArguments(['--data', 'a', '--out', 'd', '--test-fraction', 'half'])).toThrow(
      /--test-fraction must be a number/,
    );
  });

  it('names what is wrong', () => {
    expect(() => parseArguments(['--data', 'a.csv'])).toThrow(/--data and --out are required/);
    expect(() => parseArguments(['--data', 'a', '--out', 'd', '--arch', 'transformer'])).toThrow(
      /unknown architecture 'transformer'/,
    );
    expect(() => parseArguments(['--data', 'a', '--out', 'd', '--epochs', '0'])).toThrow(
      /--epochs must be an integer ≥ 1/,
    );
    expect(() => parseArguments(['--data', 'a', '--out', 'd', '--colour', 'x'])).toThrow(
      /unknown option --colour/,
    );
    expect(() => parseArguments(['--data'])).toThrow(/bad argument '--data'/);
    expect(() =>
      parseArguments(['--data', 'a', '--out', 'd', '--test', 't.csv', '--test-fraction', '0.1']),
    ).toThrow(/--test and --test-fraction exclude each other/);
    expect(() => parseArguments(['--data', 'a', '--out', 'd', '--refit', 'yes'])).toThrow(
      /--refit must be on or off, got 'yes'/,
    );
  });
});
