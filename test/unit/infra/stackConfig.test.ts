import { named, ofType, runStack, type StackRun } from './harness';

describe('stack configuration reaches the resources', () => {
  let run: StackRun;

  beforeAll(async () => {
    run = await runStack({
      namePrefix: 'hscodes',
      instanceMemoryMB: '4096',
      maximumInstanceCount: '100',
      predictionRetentionDays: '30',
      logRetentionDays: '90',
      retrainSchedule: 'off',
      alertEmail: 'ml-ops@example.com',
      alertServerErrorPercent: '2.5',
      alertP95LatencyMs: '750',
      alertWindowMinutes: '60',
      alertMinimumRequests: '100',
    });
  });

  it('sizes the Flex instances as configured', () => {
    const [app] = ofType(run, 'web:WebApp');
    expect(app!.inputs.functionAppConfig.scaleAndConcurrency).toEqual({
      instanceMemoryMB: 4096,
      maximumInstanceCount: 100,
    });
  });

  it('applies the prediction retention as the container TTL', () => {
    expect(named(run, 'cosmosdb:SqlResourceSqlContainer', 'predictions').inputs.resource.defaultTtl).toBe(
      30 * 86_400,
    );
  });

  it('applies log retention and the name prefix', () => {
    expect(ofType(run, 'operationalinsights:Workspace')[0]!.inputs.retentionInDays).toBe(90);
    expect(run.outputs.hostStorageAccountName).toMatch(/^hscodeshost[0-9a-f]{8}$/);
    expect(run.outputs.functionAppName).toMatch(/^hscodes-func-[0-9a-f]{8}$/);
  });

  it('sets the configured retraining schedule', () => {
    const [app] = ofType(run, 'web:WebApp');
    const settings = app!.inputs.siteConfig.appSettings as { name: string; value: string }[];
    expect(settings.find((setting) => setting.name === 'RETRAIN_SCHEDULE')?.value).toBe('off');
  });

  it('e-mails the configured address and applies the alert thresholds and window', () => {
    const [group] = ofType(run, 'monitor:ActionGroup');
    expect(group!.inputs.emailReceivers).toEqual([
      { name: 'operators', emailAddress: 'ml-ops@example.com', useCommonAlertSchema: true },
    ]);
    expect(group!.inputs.groupShortName).toBe('hscodes');
    const conditions = ofType(run, 'monitor:ScheduledQueryRule').map((rule): [string, number] => {
      expect(rule.inputs.windowSize).toBe('PT1H');
      const [condition] = rule.inputs.criteria.allOf;
      expect(condition.query).toContain('where total >= 100');
      return [String(condition.metricMeasureColumn), Number(condition.threshold)];
    });
    expect(Object.fromEntries(conditions)).toEqual({ serverErrorPercent: 2.5, p95DurationMs: 750 });
  });
});

describe('invalid stack configuration', () => {
  it('fails before declaring any resource, naming the bad key', async () => {
    await expect(runStack({ instanceMemoryMB: '1024' })).rejects.toThrow(/instanceMemoryMB/);
  });
});
