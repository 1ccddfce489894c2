import { BlobServiceClient } from '@azure/storage-blob';
import { QueueClient } from '@azure/storage-queue';
import * as path from 'path';
import { LocalFunctionHost } from '../../../local/host/host';
import { startAzurite, type RunningAzurite } from '../../support/azurite';
import { sleep, waitFor } from '../../support/wait';

jest.mock('@azure/functions-core', () => jest.requireActual<object>('../../../local/host/core'), {
  virtual: true,
});

const entry = path.join(__dirname, '../../fixtures/apps/storage/index.js');
const POLL_MS = 150;

interface Call {
  name: string;
  value: Record<string, any>;
}
const calls = (
  name: string,
  where: (v: Record<string, any>) => boolean = () => true,
): Record<string, any>[] =>
  ((globalThis as { hostFixtureCalls?: Call[] }).hostFixtureCalls ?? [])
    .filter((c) => c.name === name && where(c.value))
    .map((c) => c.value);

describe('storage and timer triggers against Azurite', () => {
  let azurite: RunningAzurite;
  let host: LocalFunctionHost;
  const logs: string[] = [];

  const newHost = (): LocalFunctionHost =>
    new LocalFunctionHost({
      appRoot: path.dirname(entry),
      entry,
      port: 0,
      functionKey: 'k',
      settings: { AzureWebJobsStorage: azurite.connectionString, WORK_QUEUE: 'work' },
      blob: { pollIntervalMs: POLL_MS },
      queue: { pollIntervalMs: POLL_MS },
      log: (level, msg) => logs.push(`${level} ${msg}`),
    });

  const queueTexts = async (name: string): Promise<string[]> => {
    const queue = new QueueClient(azurite.connectionString, name);
    if (!(await queue.exists())) return [];
    const peeked = await queue.peekMessages({ numberOfMessages: 32 });
    return peeked.peekedMessageItems.map((m) => Buffer.from(m.messageText, 'base64').toString('utf8'));
  };

  beforeAll(async () => {
    azurite = await startAzurite();
    host = newHost();
    await host.start();
  });

  afterAll(async () => {
    await host?.stop();
    await azurite?.stop();
  });

  it('fires a blob trigger once per blob version, with the host trigger metadata, and writes its output', async () => {
    const blobs = BlobServiceClient.fromConnectionString(azurite.connectionString);
    const incoming = blobs.getContainerClient('incoming');
    await incoming.createIfNotExists();
    const upload = await incoming
      .getBlockBlobClient('a.csv')
      .upload('x,y', 3, { metadata: { source: 'test' } });

    await waitFor('a.csv to trigger', () => calls('onUpload', (v) => v.name === 'a.csv').length === 1);
    const [first] = calls('onUpload', (v) => v.name === 'a.csv');
    expect(first).toEqual({
      name: 'a.csv',
      content: 'x,y',
      isBuffer: true,
      blobTrigger: 'incoming/a.csv',
      uri: `http://127.0.0.1:${azurite.blobPort}/devstoreaccount1/incoming/a.csv`,
      etag: upload.etag,
      length: 3,
      metadata: { source: 'test' },
    });
    const processed = blobs.getContainerClient('processed').getBlockBlobClient('a.csv');
    await waitFor('the blob output', () => processed.exists());
    expect((await processed.downloadToBuffer()).toString()).toBe('X,Y');

    await sleep(POLL_MS * 5);
    expect(calls('onUpload', (v) => v.name === 'a.csv')).toHaveLength(1);

    await incoming.getBlockBlobClient('a.csv').upload('x,y,z', 5);
    await waitFor(
      'the changed a.csv to trigger',
      () => calls('onUpload', (v) => v.name === 'a.csv').length === 2,
    );
    expect(calls('onUpload', (v) => v.name === 'a.csv')[1]!.content).toBe('x,y,z');

    const receipts: string[] = [];
    const hosts = blobs.getContainerClient('azure-webjobs-hosts');
    await waitFor('two receipts for a.csv', async () => {
      receipts.length = 0;
      for await (const b of hosts.listBlobsFlat({ prefix: 'blobreceipts/' })) receipts.push(b.name);
      return receipts.filter((r) => r.endsWith('/incoming/a.csv')).length === 2;
    });
    expect(receipts[0]).toMatch(
      /^blobreceipts\/local-function-host\/Host\.Functions\.onUpload\/[^/"]+\/BlockBlob\/incoming\//,
    );
  });

  it('retries a failing blob 5 times, then poisons it', async () => {
    const incoming = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
      'incoming',
    );
    await incoming.getBlockBlobClient('bad.csv').upload('?', 1);
    await waitFor(
      'the poison message',
      async () => (await queueTexts('webjobs-blobtrigger-poison')).length === 1,
    );
    expect(calls('onUpload', (v) => v.name === 'bad.csv')).toHaveLength(5);
    expect(JSON.parse((await queueTexts('webjobs-blobtrigger-poison'))[0]!)).toMatchObject({
      Type: 'BlobTrigger',
      FunctionId: 'Host.Functions.onUpload',
      ContainerName: 'incoming',
      BlobName: 'bad.csv',
    });
  });

  it('runs a queue trigger, delivers its return binding, and poisons after 5 dequeues', async () => {
    const work = new QueueClient(azurite.connectionString, 'work');
    await work.createIfNotExists();
    await work.sendMessage(Buffer.from(JSON.stringify({ n: 1 })).toString('base64'));
    await waitFor('the done message', async () => (await queueTexts('done')).length === 1);
    expect(calls('onWork', (v) => v.message?.n === 1)).toEqual([{ message: { n: 1 }, dequeueCount: 1 }]);
    expect(JSON.parse((await queueTexts('done'))[0]!)).toEqual({ done: { n: 1 } });

    await work.sendMessage(Buffer.from(JSON.stringify({ fail: true, id: 'f1' })).toString('base64'));
    await waitFor('the poisoned message', async () => (await queueTexts('work-poison')).length === 1);
    expect(calls('onWork', (v) => v.message?.id === 'f1').map((v) => Number(v.dequeueCount))).toEqual([
      1, 2, 3, 4, 5,
    ]);
    expect(JSON.parse((await queueTexts('work-poison'))[0]!)).toEqual({ fail: true, id: 'f1' });
    expect((await work.peekMessages()).peekedMessageItems).toHaveLength(0);
  });

  it('fires timers on schedule and on startup, with the TimerInfo shape', async () => {
    await waitFor('two ticks', () => calls('tick').length >= 2, 5000);
    expect(calls('tick')[0]).toEqual({
      schedule: { adjustForDST: true },
      scheduleStatus: null,
      isPastDue: false,
    });
    const nightly = calls('nightly');
    expect(nightly).toHaveLength(1);
    expect(nightly[0]!.isPastDue).toBe(false);
    expect(new Date(nightly[0]!.scheduleStatus.next).getUTCHours()).toBe(3);
  });

  it('does not fire again for handled blobs after a restart, and reports a missed timer as past due', async () => {
    await host.stop();
    const status = BlobServiceClient.fromConnectionString(azurite.connectionString)
      .getContainerClient('azure-webjobs-hosts')
      .getBlockBlobClient('timers/local-function-host/Host.Functions.nightly/status');
    const stored = JSON.parse((await status.downloadToBuffer()).toString());
    expect(new Date(stored.Next).getUTCHours()).toBe(3);
    const missed = JSON.stringify({ ...stored, Next: new Date(Date.now() - 60_000).toISOString() });
    await status.upload(missed, missed.length);

    const before = calls('onUpload').length;
    host = newHost();
    await host.start();
    await waitFor('the past-due nightly run', () => calls('nightly').length === 2);
    expect(calls('nightly')[1]!.isPastDue).toBe(true);
    await sleep(POLL_MS * 8);
    expect(calls('onUpload')).toHaveLength(before);
  });
});
