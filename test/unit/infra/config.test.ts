import { parseInfraConfig } from '../../../infra/config';

describe('parseInfraConfig', () => {
  it('applies the documented defaults', () => {
    expect(parseInfraConfig({ location: 'westeurope' })).toEqual({
      location: 'westeurope',
      namePrefix: 'hsmlops',
      instanceMemoryMB: 2048,
      maximumInstanceCount: 40,
      predictionRetentionDays: 1095,
      logRetentionDays: 30,
    });
  });

  it('accepts explicit values', () => {
    const config = parseInfraConfig({
      location: 'northeurope',
      namePrefix: 'hscodes',
      instanceMemoryMB: '4096',
      maximumInstanceCount: '100',
      predictionRetentionDays: '365',
      logRetentionDays: '90',
    });
    expect(config).toMatchObject({
      namePrefix: 'hscodes',
      instanceMemoryMB: 4096,
      maximumInstanceCount: 100,
      predictionRetentionDays: 365,
      logRetentionDays: 90,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('accepts only the Flex instance sizes 2048 and 4096', () => {
    expect(() => parseInfraConfig({ location: 'westeurope', instanceMemoryMB: '3000' })).toThrow(
      /instanceMemoryMB' must be 2048 or 4096/,
    );
    expect(() => parseInfraConfig({ location: 'westeurope', instanceMemoryMB: '512' })).toThrow(
      /instanceMemoryMB/,
    );
  });

  it('names every problem at once', () => {
    let message = '';
    try {
      parseInfraConfig({
        namePrefix: 'Bad_Prefix',
        maximumInstanceCount: '5',
        predictionRetentionDays: 'forever',
        logRetentionDays: '10.5',
      });
    } catch (error: unknown) {
      message = error instanceof Error ? error.message : String(error);
    }
    for (const key of [
      'azure-native:location',
      'namePrefix',
      'maximumInstanceCount',
      'predictionRetentionDays',
      'logRetentionDays',
    ]) {
      expect(message).toContain(key);
    }
  });
});
