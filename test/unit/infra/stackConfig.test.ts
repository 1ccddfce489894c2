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
});

describe('invalid stack configuration', () => {
  it('fails before declaring any resource, naming the bad key', async () => {
    await expect(runStack({ instanceMemoryMB: '1024' })).rejects.toThrow(/instanceMemoryMB/);
  });
});
