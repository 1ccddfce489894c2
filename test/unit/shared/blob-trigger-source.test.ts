import {
  ConfigError,
  DEFAULT_BLOB_TRIGGER_SOURCE,
  SETTING,
  loadBlobTriggerSource,
  loadConfig,
} from '../../../shared/config';
import { BLOB_TRIGGERS, blobTriggerPath } from '../../../shared/platform/blob-triggers';
import { BLOB_CONTAINERS } from '../../../shared/platform/resources';

describe('BLOB_TRIGGER_SOURCE', () => {
  it('defaults to the polling source, which every plan but Flex Consumption runs', () => {
    expect(SETTING.blobTriggerSource).toBe('BLOB_TRIGGER_SOURCE');
    expect(DEFAULT_BLOB_TRIGGER_SOURCE).toBe('LogsAndContainerScan');
    expect(loadConfig({}).blobTriggerSource).toBe('LogsAndContainerScan');
    expect(loadBlobTriggerSource({})).toBe('LogsAndContainerScan');
    expect(loadBlobTriggerSource({ BLOB_TRIGGER_SOURCE: '  ' })).toBe('LogsAndContainerScan');
  });

  it('accepts both sources the Functions host knows, trimmed', () => {
    expect(loadBlobTriggerSource({ BLOB_TRIGGER_SOURCE: 'EventGrid' })).toBe('EventGrid');
    expect(loadBlobTriggerSource({ BLOB_TRIGGER_SOURCE: ' LogsAndContainerScan ' })).toBe(
      'LogsAndContainerScan',
    );
    expect(loadConfig({ BLOB_TRIGGER_SOURCE: 'EventGrid' }).blobTriggerSource).toBe('EventGrid');
  });

  it('refuses anything else in both readers, naming the setting and the choices', () => {
    const expected = "BLOB_TRIGGER_SOURCE: must be 'LogsAndContainerScan' or 'EventGrid', got 'eventgrid'";
    for (const load of [loadBlobTriggerSource, loadConfig]) {
      let problems: readonly string[] = [];
      try {
        load({ BLOB_TRIGGER_SOURCE: 'eventgrid' });
      } catch (error: unknown) {
        if (!(error instanceof ConfigError)) throw error;
        problems = error.problems;
      }
      expect(problems).toEqual([expected]);
    }
  });
});

describe('BLOB_TRIGGERS', () => {
  it('declares the two blob-triggered functions with the paths they are registered with', () => {
    expect(Object.values(BLOB_TRIGGERS).map((spec) => [spec.functionName, blobTriggerPath(spec)])).toEqual([
      ['ingestUpload', `${BLOB_CONTAINERS.incoming}/{name}`],
      ['retrainOnDataset', `${BLOB_CONTAINERS.datasets}/{version}/manifest.json`],
    ]);
  });
});
