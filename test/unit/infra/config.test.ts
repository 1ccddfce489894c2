import { parseInfraConfig } from '../../../infra/config';
import { defaultPackagePath } from '../../../infra/packaging/defaults';
import { DEFAULT_RETRAIN_SCHEDULE } from '../../../shared/config';

describe('parseInfraConfig', () => {
  it('applies the documented defaults', () => {
    expect(parseInfraConfig({ location: 'westeurope' })).toEqual({
      location: 'westeurope',
      namePrefix: 'hsmlops',
      instanceMemoryMB: 2048,
      maximumInstanceCount: 40,
      predictionRetentionDays: 1095,
      logRetentionDays: 30,
      retrainSchedule: DEFAULT_RETRAIN_SCHEDULE,
      alertEmail: undefined,
      alertServerErrorPercent: 1,
      alertP95LatencyMs: 1000,
      alertWindowMinutes: 5,
      alertMinimumRequests: 10,
      deploymentPackagePath: defaultPackagePath,
      deployerPrincipalType: 'User',
    });
  });

  it('accepts the principal types a role assignment names for the deployer, and nothing else', () => {
    for (const type of ['User', 'ServicePrincipal', 'Group']) {
      expect(
        parseInfraConfig({ location: 'westeurope', deployerPrincipalType: type }).deployerPrincipalType,
      ).toBe(type);
    }
    expect(() =>
      parseInfraConfig({ location: 'westeurope', deployerPrincipalType: 'servicePrincipal' }),
    ).toThrow(
      "config 'deployerPrincipalType' must be one of User, ServicePrincipal, Group, got 'servicePrincipal'",
    );
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

  it('accepts alert thresholds, an alert e-mail and a retraining schedule', () => {
    expect(
      parseInfraConfig({
        location: 'westeurope',
        alertEmail: ' ops@example.com ',
        alertServerErrorPercent: '0.5',
        alertP95LatencyMs: '800',
        alertWindowMinutes: '15',
        alertMinimumRequests: '50',
        retrainSchedule: 'off',
      }),
    ).toMatchObject({
      alertEmail: 'ops@example.com',
      alertServerErrorPercent: 0.5,
      alertP95LatencyMs: 800,
      alertWindowMinutes: 15,
      alertMinimumRequests: 50,
      retrainSchedule: 'off',
    });
    expect(
      parseInfraConfig({ location: 'westeurope', retrainSchedule: '0 30 3 * * *' }).retrainSchedule,
    ).toBe('0 30 3 * * *');
  });

  it.each([
    ['alertServerErrorPercent', '0', /alertServerErrorPercent' must be a number above 0 and at most 100/],
    ['alertServerErrorPercent', '101', /alertServerErrorPercent/],
    ['alertServerErrorPercent', '', /alertServerErrorPercent/],
    ['alertP95LatencyMs', '0', /alertP95LatencyMs/],
    ['alertP95LatencyMs', '250.5', /alertP95LatencyMs/],
    ['alertWindowMinutes', '7', /alertWindowMinutes' must be one of 5, 10, 15, 30, 45, 60/],
    ['alertMinimumRequests', '0', /alertMinimumRequests/],
    ['alertEmail', 'ops at example', /alertEmail' must be an e-mail address/],
    // The app's own loader decides, so infra and app agree on what a schedule is.
    ['retrainSchedule', 'weekly', /retrainSchedule': RETRAIN_SCHEDULE: 'weekly' is not an NCRONTAB/],
  ] as const)('rejects %s = %j', (key, value, message) => {
    expect(() => parseInfraConfig({ location: 'westeurope', [key]: value })).toThrow(message);
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
