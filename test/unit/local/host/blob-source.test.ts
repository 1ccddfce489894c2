/**
 * Blob triggers registered with `source: 'EventGrid'` (what Flex Consumption requires) must keep firing on the
 * local host, which has no Event Grid: its container scan stands in for the event delivery.
 */
import { app, type InvocationContext } from '@azure/functions';
import { BlobServiceClient } from '@azure/storage-blob';
import { captureRegistrations } from '../../../../local/host/core';
import { FunctionRegistry } from '../../../../local/host/registry';
import { BlobTriggerListener, blobTriggerSourceOf } from '../../../../local/host/triggers/blob';
import { startAzurite, type RunningAzurite } from '../../../support/azurite';
import { waitFor } from '../../../support/wait';

jest.mock('@azure/functions-core', () => jest.requireActual<object>('../../../../local/host/core'), {
  virtual: true,
});

interface Fired {
  functionName: string;
  blobTrigger: unknown;
  content: string;
}

const fired: Fired[] = [];

function recorder(functionName: string) {
  return async (blob: unknown, context: InvocationContext): Promise<void> => {
    fired.push({
      functionName,
      blobTrigger: context.triggerMetadata?.blobTrigger,
      content: Buffer.isBuffer(blob) ? blob.toString('utf8') : String(blob),
    });
  };
}

/** Registrations as the app makes them, through the real @azure/functions library. */
const registrations = captureRegistrations(() => {
  app.storageBlob('scanned', {
    path: 'incoming/{name}',
    connection: 'AzureWebJobsStorage',
    source: 'LogsAndContainerScan',
    handler: recorder('scanned'),
  });
  app.storageBlob('eventGridDelivered', {
    path: 'incoming/{name}',
    connection: 'AzureWebJobsStorage',
    source: 'EventGrid',
    handler: recorder('eventGridDelivered'),
  });
  app.storageBlob('defaultSource', {
    path: 'datasets/{version}/manifest.json',
    connection: 'AzureWebJobsStorage',
    handler: recorder('defaultSource'),
  });
});

describe('blob trigger source on the local host', () => {
  const logs: string[] = [];
  const log = (level: string, msg: string): void => {
    logs.push(`${level} ${msg}`);
  };
  const registry = new FunctionRegistry(registrations, log);
  const byName = (name: string) => {
    const fn = registry.list().find((candidate) => candidate.name === name);
    if (fn === undefined) throw new Error(`${name} is not registered`);
    return fn;
  };

  it('reads the source the library puts in the binding, absent meaning LogsAndContainerScan', () => {
    expect(byName('eventGridDelivered').trigger.source).toBe('EventGrid');
    expect(blobTriggerSourceOf(byName('eventGridDelivered'))).toBe('EventGrid');
    expect(blobTriggerSourceOf(byName('scanned'))).toBe('LogsAndContainerScan');
    expect(blobTriggerSourceOf(byName('defaultSource'))).toBe('LogsAndContainerScan');
  });

  it('refuses a source the Functions host does not know, naming the function', () => {
    const fn = byName('scanned');
    const misspelt = { ...fn, trigger: { ...fn.trigger, source: 'EventGridd' } };
    expect(() => blobTriggerSourceOf(misspelt)).toThrow(
      /Function "scanned": blob trigger source must be LogsAndContainerScan or EventGrid, got "EventGridd"/,
    );
  });

  describe('against Azurite', () => {
    let azurite: RunningAzurite;
    let listener: BlobTriggerListener;

    beforeAll(async () => {
      azurite = await startAzurite();
      listener = new BlobTriggerListener(
        {
          registry,
          settings: { AzureWebJobsStorage: azurite.connectionString },
          hostId: 'blob-source-test',
          storageConnectionString: azurite.connectionString,
          log,
        },
        { pollIntervalMs: 100 },
      );
    });

    afterAll(async () => {
      await listener?.stop();
      await azurite?.stop();
    });

    it('fires EventGrid-source triggers from the local scan, once per blob version, like the others', async () => {
      const blobs = BlobServiceClient.fromConnectionString(azurite.connectionString);
      const incoming = blobs.getContainerClient('incoming');
      await incoming.createIfNotExists();
      const datasets = blobs.getContainerClient('datasets');
      await datasets.createIfNotExists();
      await incoming.getBlockBlobClient('lines.csv').upload('a,b', 3);
      await datasets.getBlockBlobClient('ds-1/manifest.json').upload('{}', 2);

      await listener.start();
      await waitFor('the first scan to fire all three', () => fired.length >= 3);
      // Stopping waits for the scan in flight; a second scan must then find every blob already handled.
      await listener.stop();
      await listener.pollOnce();

      expect([...fired].sort((a, b) => a.functionName.localeCompare(b.functionName))).toEqual([
        { functionName: 'defaultSource', blobTrigger: 'datasets/ds-1/manifest.json', content: '{}' },
        { functionName: 'eventGridDelivered', blobTrigger: 'incoming/lines.csv', content: 'a,b' },
        { functionName: 'scanned', blobTrigger: 'incoming/lines.csv', content: 'a,b' },
      ]);
      expect(logs).toContainEqual(
        'information Function "eventGridDelivered" uses the EventGrid source: scanning incoming locally as the ' +
          'stand-in for Event Grid delivery',
      );
      expect(logs.filter((line) => line.includes('uses the EventGrid source'))).toHaveLength(1);
    }, 60_000);
  });
});
